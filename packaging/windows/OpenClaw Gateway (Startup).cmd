@echo off
rem OpenClaw Gateway
start "" /min C:\Windows\System32\cmd.exe /d /c "%%USERPROFILE%%\.openclaw\gateway.cmd"
