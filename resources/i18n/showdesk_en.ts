<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en_US" sourcelanguage="en">
<context>
    <name>AdminOutbox</name>
    <message>
        <source>sending now</source>
        <translation>sending now</translation>
    </message>
    <message>
        <source>waits for the network: %1</source>
        <translation>waits for the network: %1</translation>
    </message>
    <message>
        <source>refused by the help desk, kept: %1</source>
        <translation>refused by the help desk, kept: %1</translation>
    </message>
    <message>
        <source>needs attention, no longer sent on its own: %1</source>
        <translation>needs attention, no longer sent on its own: %1</translation>
    </message>
    <message>
        <source>paused until the settings are fixed: %1</source>
        <translation>paused until the settings are fixed: %1</translation>
    </message>
    <message>
        <source>waiting to be sent again: %1</source>
        <translation>waiting to be sent again: %1</translation>
    </message>
    <message>
        <source>waiting to be sent</source>
        <translation>waiting to be sent</translation>
    </message>
</context>
<context>
    <name>AdminPinOverlay</name>
    <message>
        <source>Administrator PIN</source>
        <translation>Administrator PIN</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>Clear</translation>
    </message>
    <message>
        <source>OK</source>
        <translation>OK</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <source>No administrator PIN is set on this kiosk.</source>
        <translation>No administrator PIN is set on this kiosk.</translation>
    </message>
    <message>
        <source>Too many wrong PINs. Try again at %1.</source>
        <translation>Too many wrong PINs. Try again at %1.</translation>
    </message>
    <message>
        <source>Too many wrong PINs. Try again on %1 at %2.</source>
        <translation>Too many wrong PINs. Try again on %1 at %2.</translation>
    </message>
    <message>
        <source>Wrong PIN.</source>
        <translation>Wrong PIN.</translation>
    </message>
</context>
<context>
    <name>BoardWindow</name>
    <message>
        <source>Walk-up queue — %1</source>
        <translation>Walk-up queue — %1</translation>
    </message>
    <message>
        <source>Walk-up queue</source>
        <translation>Walk-up queue</translation>
    </message>
    <message>
        <source>Now serving</source>
        <translation>Now serving</translation>
    </message>
    <message>
        <source>Waiting</source>
        <translation>Waiting</translation>
    </message>
    <message>
        <source>Nobody is being served right now.</source>
        <translation>Nobody is being served right now.</translation>
    </message>
    <message>
        <source>Nobody is waiting.</source>
        <translation>Nobody is waiting.</translation>
    </message>
    <message>
        <source>Joining now: less than a minute.</source>
        <translation>Joining now: less than a minute.</translation>
    </message>
    <message numerus="yes">
        <source>Joining now: about %n minute(s).</source>
        <translation>
            <numerusform>Joining now: about %n minute.</numerusform>
            <numerusform>Joining now: about %n minutes.</numerusform>
        </translation>
    </message>
    <message>
        <source>The queue cannot be updated right now.</source>
        <translation>The queue cannot be updated right now.</translation>
    </message>
    <message numerus="yes">
        <source>… and %n more waiting.</source>
        <translation>
            <numerusform>… and %n more waiting.</numerusform>
            <numerusform>… and %n more waiting.</numerusform>
        </translation>
    </message>
    <message>
        <source>Nobody is waiting. Walk right up!</source>
        <translation>Nobody is waiting. Walk right up!</translation>
    </message>
</context>
<context>
    <name>CaptureBar</name>
    <message>
        <source>Step %1 captured</source>
        <translation>Step %1 captured</translation>
    </message>
    <message>
        <source>That did not work. Try again?</source>
        <translation>That did not work. Try again?</translation>
    </message>
    <message>
        <source>%1, %2</source>
        <translation>%1, %2</translation>
    </message>
    <message numerus="yes">
        <source>%n step(s)</source>
        <translation>
            <numerusform>%n step</numerusform>
            <numerusform>%n steps</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n clip(s)</source>
        <translation>
            <numerusform>%n clip</numerusform>
            <numerusform>%n clips</numerusform>
        </translation>
    </message>
    <message>
        <source>● Record</source>
        <translation>● Record</translation>
    </message>
    <message>
        <source>Record the screen</source>
        <translation>Record the screen</translation>
    </message>
    <message>
        <source>● Recording, %1 left</source>
        <translation>● Recording, %1 left</translation>
    </message>
    <message numerus="yes">
        <source>Recording, %n second(s) left</source>
        <translation>
            <numerusform>Recording, %n second left</numerusform>
            <numerusform>Recording, %n seconds left</numerusform>
        </translation>
    </message>
    <message>
        <source>■ Stop</source>
        <translation>■ Stop</translation>
    </message>
    <message>
        <source>Stop recording</source>
        <translation>Stop recording</translation>
    </message>
    <message>
        <source>What happens here? (optional)</source>
        <translation>What happens here? (optional)</translation>
    </message>
    <message>
        <source>Caption for the next capture (optional)</source>
        <translation>Caption for the next capture (optional)</translation>
    </message>
    <message>
        <source>Capture</source>
        <translation>Capture</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>Done</translation>
    </message>
    <message>
        <source>Done, back to the kiosk</source>
        <translation>Done, back to the kiosk</translation>
    </message>
</context>
<context>
    <name>ClipCard</name>
    <message>
        <source>Clip %1 · %2 s</source>
        <translation>Clip %1 · %2 s</translation>
    </message>
    <message>
        <source>Clip %1, first picture</source>
        <translation>Clip %1, first picture</translation>
    </message>
    <message>
        <source>Remove clip</source>
        <translation>Remove clip</translation>
    </message>
    <message>
        <source>Remove clip %1</source>
        <translation>Remove clip %1</translation>
    </message>
</context>
<context>
    <name>ClipReviewScreen</name>
    <message>
        <source>Your recording</source>
        <translation>Your recording</translation>
    </message>
    <message>
        <source>Watch it, then keep just the part that shows the problem: go to a frame, tap Start here or End here.</source>
        <translation>Watch it, then keep just the part that shows the problem: go to a frame, tap Start here or End here.</translation>
    </message>
    <message>
        <source>❚❚ Pause</source>
        <translation>❚❚ Pause</translation>
    </message>
    <message>
        <source>▶ Play</source>
        <translation>▶ Play</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>Pause</translation>
    </message>
    <message>
        <source>Play</source>
        <translation>Play</translation>
    </message>
    <message>
        <source>⇤ Start here</source>
        <translation>⇤ Start here</translation>
    </message>
    <message>
        <source>Start the clip at this frame</source>
        <translation>Start the clip at this frame</translation>
    </message>
    <message>
        <source>End here ⇥</source>
        <translation>End here ⇥</translation>
    </message>
    <message>
        <source>End the clip after this frame</source>
        <translation>End the clip after this frame</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>Remove</translation>
    </message>
    <message>
        <source>Remove this recording</source>
        <translation>Remove this recording</translation>
    </message>
    <message>
        <source>Record again</source>
        <translation>Record again</translation>
    </message>
    <message>
        <source>Keep</source>
        <translation>Keep</translation>
    </message>
    <message>
        <source>Keep this clip for the report</source>
        <translation>Keep this clip for the report</translation>
    </message>
    <message>
        <source>Frame</source>
        <translation>Frame</translation>
    </message>
    <message>
        <source>Frame %1 of %2 · %3 s</source>
        <translation>Frame %1 of %2 · %3 s</translation>
    </message>
    <message>
        <source>Keeping %1 s to %2 s (%3 s)</source>
        <translation>Keeping %1 s to %2 s (%3 s)</translation>
    </message>
    <message>
        <source>That part cannot be kept. Choose another start or end.</source>
        <translation>That part cannot be kept. Choose another start or end.</translation>
    </message>
    <message>
        <source>Preparing the clip…</source>
        <translation>Preparing the clip…</translation>
    </message>
    <message>
        <source>Preparing the clip… %1 %</source>
        <translation>Preparing the clip… %1 %</translation>
    </message>
    <message>
        <source>The clip could not be prepared. Keep a shorter part, or record again.</source>
        <translation>The clip could not be prepared. Keep a shorter part, or record again.</translation>
    </message>
</context>
<context>
    <name>DoneScreen</name>
    <message>
        <source>‹ Start over</source>
        <translation>‹ Start over</translation>
    </message>
    <message>
        <source>Start over</source>
        <translation>Start over</translation>
    </message>
    <message>
        <source>Thank you</source>
        <translation>Thank you</translation>
    </message>
    <message>
        <source>Finish</source>
        <translation>Finish</translation>
    </message>
    <message>
        <source>Scan to follow your request on your phone.</source>
        <translation>Scan to follow your request on your phone.</translation>
    </message>
    <message>
        <source>We have your request.</source>
        <translation>We have your request.</translation>
    </message>
    <message>
        <source>Your ticket number</source>
        <translation>Your ticket number</translation>
    </message>
    <message>
        <source>Ticket number %1</source>
        <translation>Ticket number %1</translation>
    </message>
    <message>
        <source>You are number %1 in the queue.</source>
        <translation>You are number %1 in the queue.</translation>
    </message>
    <message>
        <source>Please take a seat. We will call your number.</source>
        <translation>Please take a seat. We will call your number.</translation>
    </message>
    <message>
        <source>QR code to follow ticket %1</source>
        <translation>QR code to follow ticket %1</translation>
    </message>
    <message>
        <source>Saved on this kiosk. It will be sent automatically.</source>
        <translation>Saved on this kiosk. It will be sent automatically.</translation>
    </message>
    <message>
        <source>Your receipt code</source>
        <translation>Your receipt code</translation>
    </message>
    <message>
        <source>Receipt code %1</source>
        <translation>Receipt code %1</translation>
    </message>
    <message>
        <source>The help desk cannot be reached right now. Please mention this code at the desk.</source>
        <translation>The help desk cannot be reached right now. Please mention this code at the desk.</translation>
    </message>
    <message>
        <source>Estimated wait: less than a minute.</source>
        <translation>Estimated wait: less than a minute.</translation>
    </message>
    <message numerus="yes">
        <source>Estimated wait: about %n minute(s).</source>
        <translation>
            <numerusform>Estimated wait: about %n minute.</numerusform>
            <numerusform>Estimated wait: about %n minutes.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Back to the start in %n second(s).</source>
        <translation>
            <numerusform>Back to the start in %n second.</numerusform>
            <numerusform>Back to the start in %n seconds.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>IdleOverlay</name>
    <message>
        <source>Are you still there?</source>
        <translation>Are you still there?</translation>
    </message>
    <message numerus="yes">
        <source>Everything you entered will be cleared in %n second(s).</source>
        <translation>
            <numerusform>Everything you entered will be cleared in %n second.</numerusform>
            <numerusform>Everything you entered will be cleared in %n seconds.</numerusform>
        </translation>
    </message>
    <message>
        <source>I&apos;m still here</source>
        <translation>I&apos;m still here</translation>
    </message>
</context>
<context>
    <name>KioskDefaults</name>
    <message>
        <source>Something not working?</source>
        <translation>Something not working?</translation>
    </message>
    <message>
        <source>Show us the problem in two minutes. We will take it from there.</source>
        <translation>Show us the problem in two minutes. We will take it from there.</translation>
    </message>
    <message>
        <source>Can&apos;t sign in</source>
        <translation>Can&apos;t sign in</translation>
    </message>
    <message>
        <source>Laptop</source>
        <translation>Laptop</translation>
    </message>
    <message>
        <source>Printer</source>
        <translation>Printer</translation>
    </message>
    <message>
        <source>Software</source>
        <translation>Software</translation>
    </message>
    <message>
        <source>Something else</source>
        <translation>Something else</translation>
    </message>
</context>
<context>
    <name>KioskScreen</name>
    <message>
        <source>‹ Back</source>
        <translation>‹ Back</translation>
    </message>
    <message>
        <source>Back</source>
        <translation>Back</translation>
    </message>
    <message>
        <source>Step %1 of %2</source>
        <translation>Step %1 of %2</translation>
    </message>
</context>
<context>
    <name>MarkupEditor</name>
    <message>
        <source>Select</source>
        <translation>Select</translation>
    </message>
    <message>
        <source>Select and move items</source>
        <translation>Select and move items</translation>
    </message>
    <message>
        <source>Arrow</source>
        <translation>Arrow</translation>
    </message>
    <message>
        <source>Draw an arrow</source>
        <translation>Draw an arrow</translation>
    </message>
    <message>
        <source>Box</source>
        <translation>Box</translation>
    </message>
    <message>
        <source>Draw a rectangle</source>
        <translation>Draw a rectangle</translation>
    </message>
    <message>
        <source>Highlight</source>
        <translation>Highlight</translation>
    </message>
    <message>
        <source>Highlight an area</source>
        <translation>Highlight an area</translation>
    </message>
    <message>
        <source>Text</source>
        <translation>Text</translation>
    </message>
    <message>
        <source>Add text</source>
        <translation>Add text</translation>
    </message>
    <message>
        <source>Number</source>
        <translation>Number</translation>
    </message>
    <message>
        <source>Drop numbered markers 1, 2, 3</source>
        <translation>Drop numbered markers 1, 2, 3</translation>
    </message>
    <message>
        <source>Crop</source>
        <translation>Crop</translation>
    </message>
    <message>
        <source>Crop the picture</source>
        <translation>Crop the picture</translation>
    </message>
    <message>
        <source>Black out</source>
        <translation>Black out</translation>
    </message>
    <message>
        <source>Black out private information; the pixels are destroyed</source>
        <translation>Black out private information; the pixels are destroyed</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>Undo</translation>
    </message>
    <message>
        <source>Undo the last change</source>
        <translation>Undo the last change</translation>
    </message>
    <message>
        <source>Redo</source>
        <translation>Redo</translation>
    </message>
    <message>
        <source>Redo what was undone</source>
        <translation>Redo what was undone</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Delete</translation>
    </message>
    <message>
        <source>Delete the selected item</source>
        <translation>Delete the selected item</translation>
    </message>
    <message>
        <source>Zoom out</source>
        <translation>Zoom out</translation>
    </message>
    <message>
        <source>Show the picture smaller</source>
        <translation>Show the picture smaller</translation>
    </message>
    <message>
        <source>Zoom in</source>
        <translation>Zoom in</translation>
    </message>
    <message>
        <source>Show the picture larger, to mark small things exactly</source>
        <translation>Show the picture larger, to mark small things exactly</translation>
    </message>
    <message>
        <source>Fit</source>
        <translation>Fit</translation>
    </message>
    <message>
        <source>Show the whole picture</source>
        <translation>Show the whole picture</translation>
    </message>
    <message>
        <source>Actual size</source>
        <translation>Actual size</translation>
    </message>
    <message>
        <source>One screen pixel for each pixel of the picture</source>
        <translation>One screen pixel for each pixel of the picture</translation>
    </message>
    <message>
        <source>Type, then press Enter</source>
        <translation>Type, then press Enter</translation>
    </message>
    <message>
        <source>Text to add to the picture</source>
        <translation>Text to add to the picture</translation>
    </message>
    <message>
        <source>Picture to mark up</source>
        <translation>Picture to mark up</translation>
    </message>
    <message>
        <source>Mark-up items: %1</source>
        <translation>Mark-up items: %1</translation>
    </message>
    <message>
        <source>%1; selected: %2</source>
        <translation>%1; selected: %2</translation>
    </message>
    <message>
        <source>Zoom level</source>
        <translation>Zoom level</translation>
    </message>
    <message>
        <source>Move the view sideways</source>
        <translation>Move the view sideways</translation>
    </message>
    <message>
        <source>Move the view up or down</source>
        <translation>Move the view up or down</translation>
    </message>
</context>
<context>
    <name>OnScreenKeyboard</name>
    <message>
        <source>Shift</source>
        <translation>Shift</translation>
    </message>
    <message>
        <source>Backspace</source>
        <translation>Backspace</translation>
    </message>
    <message>
        <source>Space</source>
        <translation>Space</translation>
    </message>
    <message>
        <source>New line</source>
        <translation>New line</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>Done</translation>
    </message>
    <message>
        <source>Numbers and symbols</source>
        <translation>Numbers and symbols</translation>
    </message>
    <message>
        <source>Letters</source>
        <translation>Letters</translation>
    </message>
    <message>
        <source>Hide keyboard</source>
        <translation>Hide keyboard</translation>
    </message>
</context>
<context>
    <name>OutboxPanel</name>
    <message>
        <source>Reports waiting to be sent</source>
        <translation>Reports waiting to be sent</translation>
    </message>
    <message>
        <source>Nothing is waiting to be sent.</source>
        <translation>Nothing is waiting to be sent.</translation>
    </message>
    <message numerus="yes">
        <source>Reports waiting to be sent: %n</source>
        <translation>
            <numerusform>Report waiting to be sent: %n</numerusform>
            <numerusform>Reports waiting to be sent: %n</numerusform>
        </translation>
    </message>
    <message>
        <source>Receipt %1: %2</source>
        <translation>Receipt %1: %2</translation>
    </message>
    <message numerus="yes">
        <source>… and %n more.</source>
        <translation>
            <numerusform>… and %n more.</numerusform>
            <numerusform>… and %n more.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>ReviewScreen</name>
    <message>
        <source>Check before sending</source>
        <translation>Check before sending</translation>
    </message>
    <message>
        <source>Your steps</source>
        <translation>Your steps</translation>
    </message>
    <message>
        <source>Technical information groups</source>
        <translation>Technical information groups</translation>
    </message>
    <message>
        <source>No steps. That is fine: the help desk will ask if it needs to see more.</source>
        <translation>No steps. That is fine: the help desk will ask if it needs to see more.</translation>
    </message>
    <message>
        <source>About this kiosk</source>
        <translation>About this kiosk</translation>
    </message>
    <message>
        <source>This technical information goes with your request. Switch off what you do not want to send.</source>
        <translation>This technical information goes with your request. Switch off what you do not want to send.</translation>
    </message>
    <message>
        <source>Show exactly what is sent</source>
        <translation>Show exactly what is sent</translation>
    </message>
    <message>
        <source>Draw on the picture. Black boxes hide what is under them for good.</source>
        <translation>Draw on the picture. Black boxes hide what is under them for good.</translation>
    </message>
    <message>
        <source>System information that will be sent</source>
        <translation>System information that will be sent</translation>
    </message>
    <message>
        <source>Save mark-up</source>
        <translation>Save mark-up</translation>
    </message>
    <message>
        <source>Send ›</source>
        <translation>Send ›</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>Send</translation>
    </message>
    <message>
        <source>Your steps and clips</source>
        <translation>Your steps and clips</translation>
    </message>
    <message>
        <source>Send %1</source>
        <translation>Send %1</translation>
    </message>
    <message>
        <source>Collecting technical information…</source>
        <translation>Collecting technical information…</translation>
    </message>
    <message>
        <source>Clip %1 removed.</source>
        <translation>Clip %1 removed.</translation>
    </message>
    <message>
        <source>Undo: bring the clip back</source>
        <translation>Undo: bring the clip back</translation>
    </message>
    <message>
        <source>Step %1 deleted.</source>
        <translation>Step %1 deleted.</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>Undo</translation>
    </message>
    <message>
        <source>Undo: bring the step back</source>
        <translation>Undo: bring the step back</translation>
    </message>
    <message>
        <source>The raw data, exactly as it is sent.</source>
        <translation>The raw data, exactly as it is sent.</translation>
    </message>
    <message>
        <source>Show as text</source>
        <translation>Show as text</translation>
    </message>
    <message>
        <source>What goes with your request, in words.</source>
        <translation>What goes with your request, in words.</translation>
    </message>
    <message>
        <source>Show the raw data</source>
        <translation>Show the raw data</translation>
    </message>
</context>
<context>
    <name>SendScreen</name>
    <message>
        <source>Send your request</source>
        <translation>Send your request</translation>
    </message>
    <message>
        <source>You are sending</source>
        <translation>You are sending</translation>
    </message>
    <message>
        <source>As a guest</source>
        <translation>As a guest</translation>
    </message>
    <message>
        <source>With your badge</source>
        <translation>With your badge</translation>
    </message>
    <message>
        <source>As %1 (%2)</source>
        <translation>As %1 (%2)</translation>
    </message>
    <message>
        <source>Problem: %1</source>
        <translation>Problem: %1</translation>
    </message>
    <message>
        <source>In your words: “%1”</source>
        <translation>In your words: “%1”</translation>
    </message>
    <message numerus="yes">
        <source>%n picture(s) of the problem</source>
        <translation>
            <numerusform>%n picture of the problem</numerusform>
            <numerusform>%n pictures of the problem</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n clip(s) of the screen</source>
        <translation>
            <numerusform>%n clip of the screen</numerusform>
            <numerusform>%n clips of the screen</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n group(s) of technical information</source>
        <translation>
            <numerusform>%n group of technical information</numerusform>
            <numerusform>%n groups of technical information</numerusform>
        </translation>
    </message>
    <message>
        <source>Send now</source>
        <translation>Send now</translation>
    </message>
    <message>
        <source>Your request could not be saved. Please ask at the desk.</source>
        <translation>Your request could not be saved. Please ask at the desk.</translation>
    </message>
    <message>
        <source>Sending… you can stay on this screen.</source>
        <translation>Sending… you can stay on this screen.</translation>
    </message>
    <message>
        <source>Upload progress</source>
        <translation>Upload progress</translation>
    </message>
</context>
<context>
    <name>ShowScreen</name>
    <message>
        <source>Show us the problem</source>
        <translation>Show us the problem</translation>
    </message>
    <message>
        <source>A picture says more than a paragraph. Capture each step, or skip this if there is nothing to show.</source>
        <translation>A picture says more than a paragraph. Capture each step, or skip this if there is nothing to show.</translation>
    </message>
    <message>
        <source>Show me on this kiosk</source>
        <translation>Show me on this kiosk</translation>
    </message>
    <message>
        <source>Open an app, do what goes wrong and tap Capture at each step. Tap Done to come back.</source>
        <translation>Open an app, do what goes wrong and tap Capture at each step. Tap Done to come back.</translation>
    </message>
    <message>
        <source>Open %1</source>
        <translation>Open %1</translation>
    </message>
    <message>
        <source>Take a photo</source>
        <translation>Take a photo</translation>
    </message>
    <message>
        <source>An error on your phone or a broken screen? Hold it up to the camera.</source>
        <translation>An error on your phone or a broken screen? Hold it up to the camera.</translation>
    </message>
    <message>
        <source>Use the camera</source>
        <translation>Use the camera</translation>
    </message>
    <message>
        <source>Take photo</source>
        <translation>Take photo</translation>
    </message>
    <message>
        <source>This kiosk has no camera.</source>
        <translation>This kiosk has no camera.</translation>
    </message>
    <message>
        <source>Open an app, do what goes wrong and tap Capture at each step, or Record to film it. Tap Done to come back.</source>
        <translation>Open an app, do what goes wrong and tap Capture at each step, or Record to film it. Tap Done to come back.</translation>
    </message>
    <message>
        <source>That app could not be opened. Please take a photo or tell us at the desk.</source>
        <translation>That app could not be opened. Please take a photo or tell us at the desk.</translation>
    </message>
    <message>
        <source>No steps yet.</source>
        <translation>No steps yet.</translation>
    </message>
    <message numerus="yes">
        <source>Your steps so far: %n</source>
        <translation>
            <numerusform>Your steps so far: %n</numerusform>
            <numerusform>Your steps so far: %n</numerusform>
        </translation>
    </message>
    <message>
        <source>Step %1</source>
        <translation>Step %1</translation>
    </message>
    <message>
        <source>Continue ›</source>
        <translation>Continue ›</translation>
    </message>
    <message>
        <source>Continue</source>
        <translation>Continue</translation>
    </message>
    <message>
        <source>Skip ›</source>
        <translation>Skip ›</translation>
    </message>
    <message>
        <source>Skip this step</source>
        <translation>Skip this step</translation>
    </message>
    <message>
        <source>Hold it steady, then tap Take photo.</source>
        <translation>Hold it steady, then tap Take photo.</translation>
    </message>
    <message>
        <source>Taking the photo…</source>
        <translation>Taking the photo…</translation>
    </message>
    <message>
        <source>Saving the photo…</source>
        <translation>Saving the photo…</translation>
    </message>
    <message>
        <source>The photo did not work. Please try again.</source>
        <translation>The photo did not work. Please try again.</translation>
    </message>
</context>
<context>
    <name>StepCard</name>
    <message>
        <source>Step %1</source>
        <translation>Step %1</translation>
    </message>
    <message>
        <source>Marked up</source>
        <translation>Marked up</translation>
    </message>
    <message>
        <source>Mark up</source>
        <translation>Mark up</translation>
    </message>
    <message>
        <source>Mark up step %1</source>
        <translation>Mark up step %1</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Delete</translation>
    </message>
    <message>
        <source>Delete step %1</source>
        <translation>Delete step %1</translation>
    </message>
</context>
<context>
    <name>SysinfoGroups</name>
    <message>
        <source>Operating system</source>
        <translation>Operating system</translation>
    </message>
    <message>
        <source>Clock</source>
        <translation>Clock</translation>
    </message>
    <message>
        <source>Processor</source>
        <translation>Processor</translation>
    </message>
    <message>
        <source>Memory</source>
        <translation>Memory</translation>
    </message>
    <message>
        <source>Disks</source>
        <translation>Disks</translation>
    </message>
    <message>
        <source>Network</source>
        <translation>Network</translation>
    </message>
    <message>
        <source>Proxy settings</source>
        <translation>Proxy settings</translation>
    </message>
    <message>
        <source>Battery</source>
        <translation>Battery</translation>
    </message>
    <message>
        <source>Displays</source>
        <translation>Displays</translation>
    </message>
    <message>
        <source>Busiest programs</source>
        <translation>Busiest programs</translation>
    </message>
    <message>
        <source>ShowDesk</source>
        <translation>ShowDesk</translation>
    </message>
    <message>
        <source>Connection to the help desk</source>
        <translation>Connection to the help desk</translation>
    </message>
</context>
<context>
    <name>TouchScrollArea</name>
    <message>
        <source>▼ More below: drag to scroll</source>
        <translation>▼ More below: drag to scroll</translation>
    </message>
</context>
<context>
    <name>WelcomeScreen</name>
    <message>
        <source>Touch to start</source>
        <translation>Touch to start</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>Start</translation>
    </message>
    <message>
        <source>Language: %1</source>
        <translation>Language: %1</translation>
    </message>
    <message>
        <source>High contrast</source>
        <translation>High contrast</translation>
    </message>
</context>
<context>
    <name>WhatScreen</name>
    <message>
        <source>What is the problem?</source>
        <translation>What is the problem?</translation>
    </message>
    <message>
        <source>Choose what fits best</source>
        <translation>Choose what fits best</translation>
    </message>
    <message>
        <source>Category: %1</source>
        <translation>Category: %1</translation>
    </message>
    <message>
        <source>In a few words (optional)</source>
        <translation>In a few words (optional)</translation>
    </message>
    <message>
        <source>Description (optional)</source>
        <translation>Description (optional)</translation>
    </message>
    <message>
        <source>For example: the printer on floor 2 says &apos;offline&apos;</source>
        <translation>For example: the printer on floor 2 says &apos;offline&apos;</translation>
    </message>
    <message>
        <source>This may help right away</source>
        <translation>This may help right away</translation>
    </message>
    <message>
        <source>Scan a code with your phone to open the article.</source>
        <translation>Scan a code with your phone to open the article.</translation>
    </message>
    <message>
        <source>This solved it, thanks</source>
        <translation>This solved it, thanks</translation>
    </message>
    <message>
        <source>Continue ›</source>
        <translation>Continue ›</translation>
    </message>
    <message>
        <source>Continue</source>
        <translation>Continue</translation>
    </message>
    <message>
        <source>QR code to the article: %1</source>
        <translation>QR code to the article: %1</translation>
    </message>
    <message>
        <source>%1 of %2 characters</source>
        <translation>%1 of %2 characters</translation>
    </message>
</context>
<context>
    <name>WhoScreen</name>
    <message>
        <source>Who are you?</source>
        <translation>Who are you?</translation>
    </message>
    <message>
        <source>Your name and e-mail</source>
        <translation>Your name and e-mail</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>First and last name</source>
        <translation>First and last name</translation>
    </message>
    <message>
        <source>E-mail</source>
        <translation>E-mail</translation>
    </message>
    <message>
        <source>name@example.org</source>
        <translation>name@example.org</translation>
    </message>
    <message>
        <source>Or scan your badge</source>
        <translation>Or scan your badge</translation>
    </message>
    <message>
        <source>Hold your badge to the reader. We only keep its number with your request.</source>
        <translation>Hold your badge to the reader. We only keep its number with your request.</translation>
    </message>
    <message>
        <source>Continue as guest</source>
        <translation>Continue as guest</translation>
    </message>
    <message>
        <source>Continue ›</source>
        <translation>Continue ›</translation>
    </message>
    <message>
        <source>Continue</source>
        <translation>Continue</translation>
    </message>
    <message>
        <source>Please enter your name.</source>
        <translation>Please enter your name.</translation>
    </message>
    <message>
        <source>Please check your e-mail address, e.g. name@example.org.</source>
        <translation>Please check your e-mail address, e.g. name@example.org.</translation>
    </message>
    <message>
        <source>The badge could not be read. Please try again or type your name.</source>
        <translation>The badge could not be read. Please try again or type your name.</translation>
    </message>
</context>
</TS>
