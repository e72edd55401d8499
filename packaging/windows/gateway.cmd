@echo off
rem OpenClaw Gateway
set "OPENCLAW_GATEWAY_PORT=18789"
set "OPENCLAW_WINDOWS_TASK_NAME=OpenClaw Gateway"
set "OPENCLAW_SERVICE_MARKER=openclaw"
set "OPENCLAW_SERVICE_KIND=gateway"
set "OPENCLAW_SERVICE_VERSION=2026.9.6"
"C:\Program Files\Python311\python.exe" -m openclaw gateway --port 18789 < NUL
