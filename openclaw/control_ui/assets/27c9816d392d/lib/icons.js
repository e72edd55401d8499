// Line icons (24×24, stroke = currentColor) as lit SVG templates: no icon font, no files.
import { svg } from "../vendor/lit-html/lit-html.js";

const wrap = (body) => svg`<svg viewBox="0 0 24 24" fill="none" stroke="currentColor"
  stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${body}</svg>`;

export const icons = {
  chat: wrap(svg`<path d="M4 5h16v11H9l-5 4z"/>`),
  sessions: wrap(svg`<path d="M4 6h16M4 12h16M4 18h10"/>`),
  agents: wrap(svg`<rect x="5" y="7" width="14" height="11" rx="3"/><path d="M12 3v4M9 12h.01M15 12h.01"/>`),
  channels: wrap(svg`<path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1"/><path d="M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/>`),
  instances: wrap(svg`<rect x="3" y="4" width="18" height="12" rx="2"/><path d="M8 20h8M12 16v4"/>`),
  health: wrap(svg`<path d="M3 12h4l3-7 4 14 3-7h4"/>`),
  logs: wrap(svg`<path d="M7 4h10l3 3v13H4V4h3z"/><path d="M8 10h8M8 14h8M8 18h5"/>`),
  usage: wrap(svg`<path d="M4 20V10M10 20V4M16 20v-7M22 20H2"/>`),
  cron: wrap(svg`<circle cx="12" cy="12" r="8"/><path d="M12 8v4l3 2"/>`),
  approvals: wrap(svg`<path d="M12 3l7 3v6c0 4-3 7.5-7 9-4-1.5-7-5-7-9V6z"/><path d="M9 12l2 2 4-4"/>`),
  devices: wrap(svg`<rect x="7" y="2" width="10" height="20" rx="2"/><path d="M11 18h2"/>`),
  config: wrap(svg`<circle cx="12" cy="12" r="3"/><path d="M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z"/>`),
  menu: wrap(svg`<path d="M4 6h16M4 12h16M4 18h16"/>`),
  send: wrap(svg`<path d="M12 19V5M5 12l7-7 7 7"/>`),
  stop: wrap(svg`<rect x="6" y="6" width="12" height="12" rx="2"/>`),
  attach: wrap(svg`<path d="M21 11.5l-8.5 8.5a5 5 0 0 1-7-7L14 4.5a3.5 3.5 0 0 1 5 5L10.5 18a2 2 0 0 1-3-3L15 7.5"/>`),
  plus: wrap(svg`<path d="M12 5v14M5 12h14"/>`),
  refresh: wrap(svg`<path d="M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7"/>`),
  sun: wrap(svg`<circle cx="12" cy="12" r="4"/><path d="M12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M2 12h2M20 12h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4"/>`),
  moon: wrap(svg`<path d="M20 14.5A8 8 0 1 1 9.5 4a6.5 6.5 0 0 0 10.5 10.5z"/>`),
  auto: wrap(svg`<circle cx="12" cy="12" r="8"/><path d="M12 4v16" /><path d="M12 4a8 8 0 0 1 0 16z" fill="currentColor"/>`),
  logout: wrap(svg`<path d="M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10"/>`),
  tool: wrap(svg`<path d="M14.7 6.3a4 4 0 0 0-5.4 5.4L3 18l3 3 6.3-6.3a4 4 0 0 0 5.4-5.4l-2.6 2.6-2.4-.6-.6-2.4z"/>`),
};
