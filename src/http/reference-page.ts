/**
 * The OpenAPI document as one HTML page, rendered on the server with inline CSS: no script, font,
 * image or stylesheet from elsewhere, so it reads the same on an air-gapped install.
 */

type Schema = unknown;
interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  security?: Record<string, string[]>[];
  "x-invoke-scope"?: string;
  parameters?: { name: string; in: string; required?: boolean; schema?: Schema }[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}
interface Document {
  info: { title: string; version: string; description?: string };
  servers?: { url: string }[];
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
}

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 1.5rem;color:#1d2330;background:#fff}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #dfe3ea;padding-bottom:.3rem;margin-top:2.5rem}
nav ul{columns:2;padding-left:1.2rem}code,pre{font:13px/1.45 ui-monospace,Menlo,Consolas,monospace}
pre{background:#f5f7fa;border:1px solid #e3e7ee;border-radius:4px;padding:.6rem;overflow:auto;max-height:24rem}
section.op{border:1px solid #e3e7ee;border-radius:6px;padding:.4rem 1rem .8rem;margin:1rem 0}
.method{display:inline-block;min-width:4.2rem;text-align:center;font-weight:700;color:#fff;border-radius:3px;padding:0 .4rem;margin-right:.5rem}
.get{background:#2f6f4f}.post{background:#2a5db0}.patch{background:#8a5a00}.delete{background:#a33}.put{background:#6a3fa0}
table{border-collapse:collapse;margin:.3rem 0}td,th{border:1px solid #e3e7ee;padding:.2rem .5rem;text-align:left;vertical-align:top}
.auth{color:#4a5568}.muted{color:#6b7280}
`;

/** Text safe inside HTML. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** An HTML id for a name. */
function anchor(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

/** Who may call an operation, in words. */
function authText(operation: Operation): string {
  const scope = operation["x-invoke-scope"];
  if (!operation.security?.length || scope === undefined) return "None: open to anyone.";
  const optional = operation.security.some((requirement) => Object.keys(requirement).length === 0);
  const needs = scope === "admin" ? "an admin key" : scope === "key" ? "any valid key" : `a key with scope <code>${escapeHtml(scope)}</code>`;
  return `${optional ? "Optional: " : ""}${needs}, as <code>X-API-Key</code> or <code>Authorization: Bearer</code>.`;
}

function schemaBlock(schema: Schema | undefined): string {
  return schema ? `<pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre>` : "";
}

function renderOperation(method: string, path: string, operation: Operation): string {
  const parts = [
    `<section class="op" id="${anchor(`${method}-${path}`)}">`,
    `<h3><span class="method ${method}">${method.toUpperCase()}</span><code>${escapeHtml(path)}</code></h3>`,
    `<p>${escapeHtml(operation.summary ?? "")}${operation.description ? ` <span class="muted">${escapeHtml(operation.description)}</span>` : ""}</p>`,
    `<p class="auth"><strong>Auth:</strong> ${authText(operation)}</p>`,
  ];
  if (operation.parameters?.length) {
    const rows = operation.parameters.map(
      (parameter) =>
        `<tr><td><code>${escapeHtml(parameter.name)}</code></td><td>${parameter.in}</td><td>${parameter.required ? "required" : "optional"}</td><td><code>${escapeHtml(JSON.stringify(parameter.schema ?? {}))}</code></td></tr>`,
    );
    parts.push(`<table><tr><th>parameter</th><th>in</th><th></th><th>schema</th></tr>${rows.join("")}</table>`);
  }
  if (operation.requestBody) {
    const [mediaType, content] = Object.entries(operation.requestBody.content)[0]!;
    parts.push(`<p><strong>Body</strong> (${escapeHtml(mediaType)}, ${operation.requestBody.required ? "required" : "optional"}):</p>${schemaBlock(content.schema)}`);
  }
  const responses = Object.entries(operation.responses ?? {}).map(([status, response]) => {
    const mediaType = Object.keys(response.content ?? {})[0];
    return `<li><code>${escapeHtml(status)}</code> ${escapeHtml(response.description ?? "")}${mediaType ? ` <span class="muted">(${escapeHtml(mediaType)})</span>` : ""}</li>`;
  });
  parts.push(`<p><strong>Responses:</strong></p><ul>${responses.join("")}</ul>`);
  const success = Object.entries(operation.responses ?? {}).find(([status]) => status.startsWith("2"))?.[1];
  const successSchema = success?.content ? Object.values(success.content)[0]?.schema : undefined;
  if (successSchema && JSON.stringify(successSchema) !== '{"type":"object"}') parts.push(`<details><summary>Success body schema</summary>${schemaBlock(successSchema)}</details>`);
  parts.push("</section>");
  return parts.join("\n");
}

/** The reference page of an OpenAPI document. */
export function renderReferencePage(document: Document): string {
  const byTag = new Map<string, string[]>((document.tags ?? []).map((tag) => [tag.name, []]));
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const tag = operation.tags?.[0] ?? "Other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)!.push(renderOperation(method, path, operation));
    }
  }
  const descriptions = new Map((document.tags ?? []).map((tag) => [tag.name, tag.description ?? ""]));
  const sections = [...byTag].map(([tag, operations]) => `<h2 id="${anchor(tag)}">${escapeHtml(tag)}</h2><p class="muted">${escapeHtml(descriptions.get(tag) ?? "")}</p>${operations.join("\n")}`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(document.info.title)} ${escapeHtml(document.info.version)}</title><style>${STYLE}</style></head>
<body><header><h1>${escapeHtml(document.info.title)}</h1><p class="muted">Version ${escapeHtml(document.info.version)} · server <code>${escapeHtml(document.servers?.[0]?.url ?? "/")}</code> · machine-readable: <a href="openapi.json">openapi.json</a></p>
<p>${escapeHtml(document.info.description ?? "")}</p>
<nav><ul>${[...byTag.keys()].map((tag) => `<li><a href="#${anchor(tag)}">${escapeHtml(tag)}</a></li>`).join("")}</ul></nav></header>
<main>${sections.join("\n")}</main></body></html>
`;
}
