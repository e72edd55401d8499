// A small, safe Markdown subset rendered as lit templates (never as HTML strings): paragraphs,
// fenced code, inline code, bold, italics, http(s) links, bullet and numbered lists, headings.

import { html, nothing } from "../vendor/lit-html/lit-html.js";

const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\n]+\*|_[^_\n]+_)|(\[[^\]\n]+\]\((https?:\/\/[^)\s]+)\))|(https?:\/\/[^\s<)]+)/g;

function inline(text) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) out.push(text.slice(last, match.index));
    const [whole, code, bold, italic, link, linkUrl, bare] = match;
    if (code) out.push(html`<code>${code.slice(1, -1)}</code>`);
    else if (bold) out.push(html`<strong>${bold.slice(2, -2)}</strong>`);
    else if (italic) out.push(html`<em>${italic.slice(1, -1)}</em>`);
    else if (link) {
      const label = link.slice(1, link.indexOf("]("));
      out.push(html`<a href=${linkUrl} target="_blank" rel="noopener noreferrer">${label}</a>`);
    } else if (bare) out.push(html`<a href=${bare} target="_blank" rel="noopener noreferrer">${bare}</a>`);
    else out.push(whole);
    last = match.index + whole.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function withBreaks(lines) {
  return lines.map((line, i) => (i ? [html`<br>`, ...inline(line)] : inline(line)));
}

export function markdown(text) {
  if (!text) return nothing;
  const blocks = [];
  const lines = String(text).replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^\s*```(\S*)\s*$/);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !/^\s*```\s*$/.test(lines[i])) body.push(lines[i++]);
      i += 1;
      blocks.push(html`<pre><code data-lang=${fence[1] || nothing}>${body.join("\n")}</code></pre>`);
      continue;
    }
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const heading = line.match(/^(#{1,4})\s+(.*)$/);
    if (heading) {
      blocks.push(html`<p><strong>${inline(heading[2])}</strong></p>`);
      i += 1;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d+[.)]\s+/.test(line);
      const items = [];
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
        items.push(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ""));
        i += 1;
      }
      const lis = items.map((item) => html`<li>${inline(item)}</li>`);
      blocks.push(ordered ? html`<ol>${lis}</ol>` : html`<ul>${lis}</ul>`);
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^\s*```/.test(lines[i]) &&
      !/^\s*([-*+]|\d+[.)])\s+/.test(lines[i]) && !/^#{1,4}\s/.test(lines[i])) {
      para.push(lines[i]);
      i += 1;
    }
    blocks.push(html`<p>${withBreaks(para)}</p>`);
  }
  return blocks;
}
