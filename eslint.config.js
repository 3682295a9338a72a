// ESLint flat config: typescript-eslint's recommended rules, with formatting left to Prettier.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      'no-eval': 'error',
      'no-new-func': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // The dashboard's page scripts run in the browser (checked by tsconfig.dashboard.json); never innerHTML.
    files: ['src/dashboard/assets/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'fetch',
          'URLSearchParams',
          'Headers',
          'Intl',
          'setTimeout',
          'setInterval',
          'clearTimeout',
          'console',
        ]
          .concat([
            'Node',
            'Element',
            'Event',
            'EventListener',
            'HTMLElement',
            'HTMLDialogElement',
            'HTMLTableRowElement',
            'HTMLTableCellElement',
            'SVGElement',
            'Response',
          ])
          .map((name) => [name, 'readonly']),
      ),
    },
    rules: {
      'no-restricted-properties': [
        'error',
        { property: 'innerHTML', message: 'build elements with h() so that data is always text' },
        { property: 'outerHTML', message: 'build elements with h() so that data is always text' },
        { property: 'insertAdjacentHTML', message: 'build elements with h() so that data is always text' },
      ],
    },
  },
);
