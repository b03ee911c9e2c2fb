; Inno Setup 6 script of the ShowDesk installer for Windows. UNTESTED HERE (see build.ps1).
;
; Interactive:  ShowDesk-<version>-setup.exe
; Silent, machine-wide, for software distribution:
;   ShowDesk-<version>-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /ALLUSERS
;       /URL=https://helpdesk.example.org      backend address, written to %ProgramData%\ShowDesk\config.toml
;       /ENROL=SDE1-...                        enrolment code: signs in the user the installer runs for
;       /AUTOSTART=1                           start the agent at every user's login
;       /LOG="C:\Windows\Temp\showdesk-setup.log"   (not with /ENROL: see below)
; Uninstall silently: "C:\Program Files\ShowDesk\unins000.exe" /VERYSILENT
;
; The enrolment code carries a token, so it is never written to a file or the registry: it is
; handed to `showdeskw.exe agent --enrol`, which keeps the token in the user's Credential
; Manager. That reaches the user the installer runs for; installs in the SYSTEM context
; (most management tools) have no user, so there the agents are enrolled per user instead
; (the enrolment link the help desk sends, or a user-context script running
; `showdesk agent --enrol CODE`). Inno Setup writes its command line into a /LOG file, so
; /ENROL and /LOG do not belong in the same run.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef BundleDir
  #define BundleDir "..\..\dist\showdesk"
#endif

[Setup]
AppId={{6E0B7C1E-2F4B-4C53-9E1A-5D0C3B8F4A21}
AppName=ShowDesk
AppVersion={#AppVersion}
AppPublisher=ShowDesk
DefaultDirName={autopf}\ShowDesk
DefaultGroupName=ShowDesk
DisableProgramGroupPage=yes
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputBaseFilename=ShowDesk-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\showdeskw.exe
ChangesEnvironment=yes
CloseApplications=yes

[Tasks]
Name: "autostart"; Description: "Start the ShowDesk agent when a user signs in"; Check: not IsAutostartParam
Name: "path"; Description: "Add the showdesk command to the PATH"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Dirs]
Name: "{commonappdata}\ShowDesk"

[Icons]
Name: "{group}\ShowDesk"; Filename: "{app}\showdeskw.exe"; Parameters: "agent"
Name: "{group}\ShowDesk technician mode"; Filename: "{app}\showdeskw.exe"; Parameters: "tech"

[Registry]
Root: HKLM; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "ShowDesk"; \
    ValueData: """{app}\showdeskw.exe"" agent --background"; Flags: uninsdeletevalue; Check: WantsAutostart
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; ValueType: expandsz; \
    ValueName: "Path"; ValueData: "{olddata};{app}"; Check: NeedsAddPath(ExpandConstant('{app}')); Tasks: path

[Run]
Filename: "{app}\showdeskw.exe"; Parameters: "agent --enrol ""{param:ENROL}"""; \
    Flags: runasoriginaluser runhidden waituntilterminated; Check: HasEnrolment; \
    StatusMsg: "Signing this user in to the help desk..."

[UninstallRun]
Filename: "{sys}\taskkill.exe"; Parameters: "/IM showdeskw.exe /F"; Flags: runhidden; RunOnceId: "StopAgent"

[Code]
function IsAutostartParam: Boolean;
begin
  Result := ExpandConstant('{param:AUTOSTART|}') = '1';
end;

function WantsAutostart: Boolean;
begin
  Result := IsAutostartParam or WizardIsTaskSelected('autostart');
end;

function HasEnrolment: Boolean;
begin
  Result := ExpandConstant('{param:ENROL|}') <> '';
end;

function NeedsAddPath(Dir: string): Boolean;
var
  Paths: string;
begin
  if not RegQueryStringValue(HKLM, 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment', 'Path', Paths) then
    Result := True
  else
    Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;

// /URL=... writes the machine-wide file, unless an administrator's file is already there
// (a management tool pushes that one; the installer never overwrites it).
procedure WriteMachineConfig;
var
  Url, ConfigFile: string;
begin
  Url := ExpandConstant('{param:URL|}');
  if Url = '' then
    exit;
  if (Pos('"', Url) > 0) or (Pos('\', Url) > 0) or ((Pos('http://', Url) <> 1) and (Pos('https://', Url) <> 1)) then
    RaiseException('/URL must be an http:// or https:// address without quotes or backslashes: ' + Url);
  ConfigFile := ExpandConstant('{commonappdata}\ShowDesk\config.toml');
  if FileExists(ConfigFile) then
  begin
    Log('Kept the existing ' + ConfigFile + '; /URL was not written');
    exit;
  end;
  if not SaveStringToFile(ConfigFile,
      '# Written by the ShowDesk installer (/URL=). Every key: configuration.md' + #13#10 +
      '[backend]' + #13#10 + 'url = "' + Url + '"' + #13#10, False) then
    RaiseException('Cannot write ' + ConfigFile);
end;

procedure CurStepChanged(CurStep: TSetupStep);
var
  ResultCode: Integer;
begin
  if CurStep = ssPostInstall then
  begin
    WriteMachineConfig;
    // The result goes to the setup log (/LOG): a pushed file with a mistake shows up there.
    Exec(ExpandConstant('{app}\showdesk.exe'), 'config check', '', SW_HIDE, ewWaitUntilTerminated, ResultCode);
    Log('showdesk config check exited with ' + IntToStr(ResultCode));
  end;
end;
