/** The dashboard's one HTML page: a shell that loads the page's own script and style sheet, with every inserted value escaped. */

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The shell: the script renders every view from the JSON API (text only, never HTML). */
export function pageHtml(input: { basePath: string; csrf: string; title: string; assetVersion: string }): string {
  const base = escapeHtml(input.basePath);
  const v = escapeHtml(input.assetVersion);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="deferred-base" content="${base}">
<meta name="deferred-csrf" content="${escapeHtml(input.csrf)}">
<title>${escapeHtml(input.title)}</title>
<link rel="icon" href="${base}/assets/favicon.svg?v=${v}" type="image/svg+xml">
<link rel="stylesheet" href="${base}/assets/style.css?v=${v}">
<script type="module" src="${base}/assets/app.js?v=${v}"></script>
</head>
<body>
<noscript>This dashboard needs JavaScript (its own script, served from this origin).</noscript>
<div id="app" data-title="${escapeHtml(input.title)}"></div>
</body>
</html>
`;
}
