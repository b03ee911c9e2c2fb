# Build the Windows bundle and its installer. UNTESTED HERE: the project's machines run Linux;
# installer/ci/desktop-bundles.yml runs these steps on a hosted Windows runner.
#
#   powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1
#
# Needs Python 3.11 (py launcher) and Inno Setup 6 (iscc.exe on PATH, e.g. `choco install innosetup`).
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")

py -3.11 -m venv .venv
.venv\Scripts\python -m pip install --upgrade pip
.venv\Scripts\python -m pip install -e ".[dev]" "pyinstaller>=6.10"

# One folder, dist\showdesk: showdesk.exe (console: the command line, the server) and
# showdeskw.exe (no console: agent, kiosk, technician mode), Qt plugins and translations.
.venv\Scripts\python -m PyInstaller --noconfirm --clean --distpath dist --workpath build\pyinstaller installer\showdesk.spec

$version = (& dist\showdesk\showdesk.exe --version).Split(" ")[1]
& dist\showdesk\showdesk.exe config check
iscc /DAppVersion=$version /DBundleDir="$PWD\dist\showdesk" /O"$PWD\dist" installer\windows\showdesk.iss
Write-Host "built dist\ShowDesk-$version-setup.exe"
