# Apply the kiosk lockdown through the MDM bridge (WMI). Run as SYSTEM, for example:
#   psexec.exe -i -s powershell -ExecutionPolicy Bypass -File apply-kiosk.ps1 [-AssignedAccess]
# UNTESTED HERE. Without -AssignedAccess: Shell Launcher v2 (shell-launcher.xml, Enterprise or
# Education). With it: the multi-app Assigned Access profile (assigned-access.xml).
# Remove it again with: apply-kiosk.ps1 -Clear [-AssignedAccess]
param([switch]$AssignedAccess, [switch]$Clear)
$ErrorActionPreference = "Stop"
$bridge = Get-CimInstance -Namespace "root\cimv2\mdm\dmmap" -ClassName "MDM_AssignedAccess"
if ($AssignedAccess) {
    $xml = if ($Clear) { "" } else { Get-Content -Raw (Join-Path $PSScriptRoot "assigned-access.xml") }
    $bridge.Configuration = [System.Net.WebUtility]::HtmlEncode($xml)
} else {
    # Shell Launcher needs the optional feature first.
    if (-not $Clear) { Enable-WindowsOptionalFeature -Online -FeatureName Client-EmbeddedShellLauncher -All -NoRestart | Out-Null }
    $xml = if ($Clear) { "" } else { Get-Content -Raw (Join-Path $PSScriptRoot "shell-launcher.xml") }
    $bridge.ShellLauncher = [System.Net.WebUtility]::HtmlEncode($xml)
}
Set-CimInstance -CimInstance $bridge
Write-Host "Applied. Restart, then sign in as the kiosk account."
