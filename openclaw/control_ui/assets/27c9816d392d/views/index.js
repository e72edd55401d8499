// The views, in navigation order: id (URL path), title, icon, group, and the methods a view
// cannot work without (the shell says so instead of showing an empty view).

import { AgentsView } from "./agents.js";
import { ApprovalsView } from "./approvals.js";
import { ChannelsView } from "./channels.js";
import { ChatView } from "./chat.js";
import { ConfigView } from "./config.js";
import { CronView } from "./cron.js";
import { DevicesView } from "./devices.js";
import { HealthView } from "./health.js";
import { InstancesView } from "./instances.js";
import { LogsView } from "./logs.js";
import { SessionsView } from "./sessions.js";
import { UsageView } from "./usage.js";

export const VIEWS = [
  { id: "chat", title: "Chat", icon: "chat", group: null, View: ChatView, needs: ["chat.history", "chat.send"] },
  { id: "sessions", title: "Sessions", icon: "sessions", group: null, View: SessionsView, needs: ["sessions.list"] },
  { id: "agents", title: "Agents & models", icon: "agents", group: null, View: AgentsView, needs: ["agents.list"] },
  { id: "channels", title: "Channels", icon: "channels", group: "Gateway", View: ChannelsView, needs: ["channels.status"] },
  { id: "instances", title: "Instances", icon: "instances", group: "Gateway", View: InstancesView, needs: ["system-presence"] },
  { id: "health", title: "Health", icon: "health", group: "Gateway", View: HealthView, needs: ["health"] },
  { id: "logs", title: "Logs", icon: "logs", group: "Gateway", View: LogsView, needs: ["logs.tail"] },
  { id: "usage", title: "Usage", icon: "usage", group: "Gateway", View: UsageView, needs: [], needsAny: ["sessions.usage", "usage.cost"] },
  { id: "cron", title: "Cron jobs", icon: "cron", group: "Automation", View: CronView, needs: ["cron.list"] },
  { id: "approvals", title: "Approvals", icon: "approvals", group: "Automation", View: ApprovalsView, needs: ["exec.approval.list", "exec.approval.resolve"], badge: "approvals" },
  { id: "devices", title: "Devices", icon: "devices", group: "Settings", View: DevicesView, needs: ["device.pair.list"], badge: "devices" },
  { id: "config", title: "Config", icon: "config", group: "Settings", View: ConfigView, needs: ["config.get", "config.schema"] },
];
