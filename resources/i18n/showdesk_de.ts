<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE" sourcelanguage="en">
<context>
    <name>AdminOutbox</name>
    <message>
        <source>sending now</source>
        <translation>wird gerade gesendet</translation>
    </message>
    <message>
        <source>waits for the network: %1</source>
        <translation>wartet auf das Netzwerk: %1</translation>
    </message>
    <message>
        <source>refused by the help desk, kept: %1</source>
        <translation>vom Helpdesk abgelehnt, aufbewahrt: %1</translation>
    </message>
    <message>
        <source>needs attention, no longer sent on its own: %1</source>
        <translation>braucht Aufmerksamkeit, wird nicht mehr von selbst gesendet: %1</translation>
    </message>
    <message>
        <source>paused until the settings are fixed: %1</source>
        <translation>angehalten, bis die Einstellungen stimmen: %1</translation>
    </message>
    <message>
        <source>waiting to be sent again: %1</source>
        <translation>wartet auf einen neuen Versuch: %1</translation>
    </message>
    <message>
        <source>waiting to be sent</source>
        <translation>wartet auf das Senden</translation>
    </message>
</context>
<context>
    <name>AdminPinOverlay</name>
    <message>
        <source>Administrator PIN</source>
        <translation>Administrator-PIN</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>Löschen</translation>
    </message>
    <message>
        <source>OK</source>
        <translation>OK</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Abbrechen</translation>
    </message>
    <message>
        <source>No administrator PIN is set on this kiosk.</source>
        <translation>Auf diesem Kiosk ist keine Administrator-PIN gesetzt.</translation>
    </message>
    <message>
        <source>Too many wrong PINs. Try again at %1.</source>
        <translation>Zu viele falsche PINs. Bitte um %1 Uhr erneut versuchen.</translation>
    </message>
    <message>
        <source>Too many wrong PINs. Try again on %1 at %2.</source>
        <translation>Zu viele falsche PINs. Bitte am %1 um %2 Uhr erneut versuchen.</translation>
    </message>
    <message>
        <source>Wrong PIN.</source>
        <translation>Falsche PIN.</translation>
    </message>
</context>
<context>
    <name>BoardWindow</name>
    <message>
        <source>Walk-up queue — %1</source>
        <translation>Warteschlange — %1</translation>
    </message>
    <message>
        <source>Walk-up queue</source>
        <translation>Warteschlange</translation>
    </message>
    <message>
        <source>Now serving</source>
        <translation>Jetzt an der Reihe</translation>
    </message>
    <message>
        <source>Waiting</source>
        <translation>Wartend</translation>
    </message>
    <message>
        <source>Nobody is being served right now.</source>
        <translation>Gerade wird niemand bedient.</translation>
    </message>
    <message>
        <source>Nobody is waiting.</source>
        <translation>Niemand wartet.</translation>
    </message>
    <message>
        <source>Joining now: less than a minute.</source>
        <translation>Wer jetzt kommt: weniger als eine Minute.</translation>
    </message>
    <message numerus="yes">
        <source>Joining now: about %n minute(s).</source>
        <translation>
            <numerusform>Wer jetzt kommt: etwa %n Minute.</numerusform>
            <numerusform>Wer jetzt kommt: etwa %n Minuten.</numerusform>
        </translation>
    </message>
    <message>
        <source>The queue cannot be updated right now.</source>
        <translation>Die Warteschlange kann gerade nicht aktualisiert werden.</translation>
    </message>
    <message numerus="yes">
        <source>… and %n more waiting.</source>
        <translation>
            <numerusform>… und %n weitere Person wartet.</numerusform>
            <numerusform>… und %n weitere Personen warten.</numerusform>
        </translation>
    </message>
    <message>
        <source>Nobody is waiting. Walk right up!</source>
        <translation>Niemand wartet. Kommen Sie direkt vorbei!</translation>
    </message>
</context>
<context>
    <name>CaptureBar</name>
    <message>
        <source>Step %1 captured</source>
        <translation>Schritt %1 aufgenommen</translation>
    </message>
    <message>
        <source>That did not work. Try again?</source>
        <translation>Das hat nicht geklappt. Noch einmal?</translation>
    </message>
    <message>
        <source>%1, %2</source>
        <translation>%1, %2</translation>
    </message>
    <message numerus="yes">
        <source>%n step(s)</source>
        <translation>
            <numerusform>%n Schritt</numerusform>
            <numerusform>%n Schritte</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n clip(s)</source>
        <translation>
            <numerusform>%n Video</numerusform>
            <numerusform>%n Videos</numerusform>
        </translation>
    </message>
    <message>
        <source>● Record</source>
        <translation>● Aufzeichnen</translation>
    </message>
    <message>
        <source>Record the screen</source>
        <translation>Den Bildschirm aufzeichnen</translation>
    </message>
    <message>
        <source>● Recording, %1 left</source>
        <translation>● Aufzeichnung, noch %1</translation>
    </message>
    <message numerus="yes">
        <source>Recording, %n second(s) left</source>
        <translation>
            <numerusform>Aufzeichnung, noch %n Sekunde</numerusform>
            <numerusform>Aufzeichnung, noch %n Sekunden</numerusform>
        </translation>
    </message>
    <message>
        <source>■ Stop</source>
        <translation>■ Stopp</translation>
    </message>
    <message>
        <source>Stop recording</source>
        <translation>Aufzeichnung beenden</translation>
    </message>
    <message>
        <source>What happens here? (optional)</source>
        <translation>Was passiert hier? (optional)</translation>
    </message>
    <message>
        <source>Caption for the next capture (optional)</source>
        <translation>Beschriftung für die nächste Aufnahme (optional)</translation>
    </message>
    <message>
        <source>Capture</source>
        <translation>Aufnehmen</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>Fertig</translation>
    </message>
    <message>
        <source>Done, back to the kiosk</source>
        <translation>Fertig, zurück zum Kiosk</translation>
    </message>
</context>
<context>
    <name>ClipCard</name>
    <message>
        <source>Clip %1 · %2 s</source>
        <translation>Video %1 · %2 s</translation>
    </message>
    <message>
        <source>Clip %1, first picture</source>
        <translation>Video %1, erstes Bild</translation>
    </message>
    <message>
        <source>Remove clip</source>
        <translation>Video entfernen</translation>
    </message>
    <message>
        <source>Remove clip %1</source>
        <translation>Video %1 entfernen</translation>
    </message>
</context>
<context>
    <name>ClipReviewScreen</name>
    <message>
        <source>Your recording</source>
        <translation>Ihre Aufzeichnung</translation>
    </message>
    <message>
        <source>Watch it, then keep just the part that shows the problem: go to a frame, tap Start here or End here.</source>
        <translation>Sehen Sie sie an und behalten Sie nur den Teil, der das Problem zeigt: Gehen Sie zu einem Bild und tippen Sie auf „Hier beginnen“ oder „Hier enden“.</translation>
    </message>
    <message>
        <source>❚❚ Pause</source>
        <translation>❚❚ Pause</translation>
    </message>
    <message>
        <source>▶ Play</source>
        <translation>▶ Abspielen</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>Pause</translation>
    </message>
    <message>
        <source>Play</source>
        <translation>Abspielen</translation>
    </message>
    <message>
        <source>⇤ Start here</source>
        <translation>⇤ Hier beginnen</translation>
    </message>
    <message>
        <source>Start the clip at this frame</source>
        <translation>Das Video mit diesem Bild beginnen</translation>
    </message>
    <message>
        <source>End here ⇥</source>
        <translation>Hier enden ⇥</translation>
    </message>
    <message>
        <source>End the clip after this frame</source>
        <translation>Das Video nach diesem Bild enden lassen</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>Entfernen</translation>
    </message>
    <message>
        <source>Remove this recording</source>
        <translation>Diese Aufzeichnung entfernen</translation>
    </message>
    <message>
        <source>Record again</source>
        <translation>Neu aufzeichnen</translation>
    </message>
    <message>
        <source>Keep</source>
        <translation>Behalten</translation>
    </message>
    <message>
        <source>Keep this clip for the report</source>
        <translation>Dieses Video für die Meldung behalten</translation>
    </message>
    <message>
        <source>Frame</source>
        <translation>Bild</translation>
    </message>
    <message>
        <source>Frame %1 of %2 · %3 s</source>
        <translation>Bild %1 von %2 · %3 s</translation>
    </message>
    <message>
        <source>Keeping %1 s to %2 s (%3 s)</source>
        <translation>Behalten: %1 s bis %2 s (%3 s)</translation>
    </message>
    <message>
        <source>That part cannot be kept. Choose another start or end.</source>
        <translation>Dieser Teil kann nicht behalten werden. Wählen Sie einen anderen Anfang oder ein anderes Ende.</translation>
    </message>
    <message>
        <source>Preparing the clip…</source>
        <translation>Das Video wird vorbereitet …</translation>
    </message>
    <message>
        <source>Preparing the clip… %1 %</source>
        <translation>Das Video wird vorbereitet … %1 %</translation>
    </message>
    <message>
        <source>The clip could not be prepared. Keep a shorter part, or record again.</source>
        <translation>Das Video konnte nicht vorbereitet werden. Behalten Sie einen kürzeren Teil oder zeichnen Sie neu auf.</translation>
    </message>
</context>
<context>
    <name>DoneScreen</name>
    <message>
        <source>‹ Start over</source>
        <translation>‹ Neu beginnen</translation>
    </message>
    <message>
        <source>Start over</source>
        <translation>Neu beginnen</translation>
    </message>
    <message>
        <source>Thank you</source>
        <translation>Vielen Dank</translation>
    </message>
    <message>
        <source>Finish</source>
        <translation>Beenden</translation>
    </message>
    <message>
        <source>Scan to follow your request on your phone.</source>
        <translation>Scannen, um Ihre Anfrage auf dem Handy zu verfolgen.</translation>
    </message>
    <message>
        <source>We have your request.</source>
        <translation>Wir haben Ihre Anfrage.</translation>
    </message>
    <message>
        <source>Your ticket number</source>
        <translation>Ihre Ticketnummer</translation>
    </message>
    <message>
        <source>Ticket number %1</source>
        <translation>Ticketnummer %1</translation>
    </message>
    <message>
        <source>You are number %1 in the queue.</source>
        <translation>Sie sind Nummer %1 in der Warteschlange.</translation>
    </message>
    <message>
        <source>Please take a seat. We will call your number.</source>
        <translation>Bitte nehmen Sie Platz. Wir rufen Ihre Nummer auf.</translation>
    </message>
    <message>
        <source>QR code to follow ticket %1</source>
        <translation>QR-Code zum Verfolgen von Ticket %1</translation>
    </message>
    <message>
        <source>Saved on this kiosk. It will be sent automatically.</source>
        <translation>Auf diesem Kiosk gespeichert. Sie wird automatisch gesendet.</translation>
    </message>
    <message>
        <source>Your receipt code</source>
        <translation>Ihr Belegcode</translation>
    </message>
    <message>
        <source>Receipt code %1</source>
        <translation>Belegcode %1</translation>
    </message>
    <message>
        <source>The help desk cannot be reached right now. Please mention this code at the desk.</source>
        <translation>Der Helpdesk ist gerade nicht erreichbar. Bitte nennen Sie diesen Code am Schalter.</translation>
    </message>
    <message>
        <source>Estimated wait: less than a minute.</source>
        <translation>Geschätzte Wartezeit: weniger als eine Minute.</translation>
    </message>
    <message numerus="yes">
        <source>Estimated wait: about %n minute(s).</source>
        <translation>
            <numerusform>Geschätzte Wartezeit: etwa %n Minute.</numerusform>
            <numerusform>Geschätzte Wartezeit: etwa %n Minuten.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Back to the start in %n second(s).</source>
        <translation>
            <numerusform>Zurück zum Start in %n Sekunde.</numerusform>
            <numerusform>Zurück zum Start in %n Sekunden.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>IdleOverlay</name>
    <message>
        <source>Are you still there?</source>
        <translation>Sind Sie noch da?</translation>
    </message>
    <message numerus="yes">
        <source>Everything you entered will be cleared in %n second(s).</source>
        <translation>
            <numerusform>Alle Ihre Eingaben werden in %n Sekunde gelöscht.</numerusform>
            <numerusform>Alle Ihre Eingaben werden in %n Sekunden gelöscht.</numerusform>
        </translation>
    </message>
    <message>
        <source>I&apos;m still here</source>
        <translation>Ich bin noch da</translation>
    </message>
</context>
<context>
    <name>KioskDefaults</name>
    <message>
        <source>Something not working?</source>
        <translation>Funktioniert etwas nicht?</translation>
    </message>
    <message>
        <source>Show us the problem in two minutes. We will take it from there.</source>
        <translation>Zeigen Sie uns das Problem in zwei Minuten. Wir kümmern uns um den Rest.</translation>
    </message>
    <message>
        <source>Can&apos;t sign in</source>
        <translation>Anmeldung klappt nicht</translation>
    </message>
    <message>
        <source>Laptop</source>
        <translation>Laptop</translation>
    </message>
    <message>
        <source>Printer</source>
        <translation>Drucker</translation>
    </message>
    <message>
        <source>Software</source>
        <translation>Software</translation>
    </message>
    <message>
        <source>Something else</source>
        <translation>Etwas anderes</translation>
    </message>
</context>
<context>
    <name>KioskScreen</name>
    <message>
        <source>‹ Back</source>
        <translation>‹ Zurück</translation>
    </message>
    <message>
        <source>Back</source>
        <translation>Zurück</translation>
    </message>
    <message>
        <source>Step %1 of %2</source>
        <translation>Schritt %1 von %2</translation>
    </message>
</context>
<context>
    <name>MarkupEditor</name>
    <message>
        <source>Select</source>
        <translation>Auswählen</translation>
    </message>
    <message>
        <source>Select and move items</source>
        <translation>Elemente auswählen und verschieben</translation>
    </message>
    <message>
        <source>Arrow</source>
        <translation>Pfeil</translation>
    </message>
    <message>
        <source>Draw an arrow</source>
        <translation>Einen Pfeil zeichnen</translation>
    </message>
    <message>
        <source>Box</source>
        <translation>Rahmen</translation>
    </message>
    <message>
        <source>Draw a rectangle</source>
        <translation>Ein Rechteck zeichnen</translation>
    </message>
    <message>
        <source>Highlight</source>
        <translation>Markieren</translation>
    </message>
    <message>
        <source>Highlight an area</source>
        <translation>Einen Bereich hervorheben</translation>
    </message>
    <message>
        <source>Text</source>
        <translation>Text</translation>
    </message>
    <message>
        <source>Add text</source>
        <translation>Text hinzufügen</translation>
    </message>
    <message>
        <source>Number</source>
        <translation>Nummer</translation>
    </message>
    <message>
        <source>Drop numbered markers 1, 2, 3</source>
        <translation>Nummern 1, 2, 3 setzen</translation>
    </message>
    <message>
        <source>Crop</source>
        <translation>Zuschneiden</translation>
    </message>
    <message>
        <source>Crop the picture</source>
        <translation>Das Bild zuschneiden</translation>
    </message>
    <message>
        <source>Black out</source>
        <translation>Schwärzen</translation>
    </message>
    <message>
        <source>Black out private information; the pixels are destroyed</source>
        <translation>Private Angaben schwärzen; die Bildpunkte werden gelöscht</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>Rückgängig</translation>
    </message>
    <message>
        <source>Undo the last change</source>
        <translation>Die letzte Änderung rückgängig machen</translation>
    </message>
    <message>
        <source>Redo</source>
        <translation>Wiederholen</translation>
    </message>
    <message>
        <source>Redo what was undone</source>
        <translation>Rückgängig Gemachtes wiederholen</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Löschen</translation>
    </message>
    <message>
        <source>Delete the selected item</source>
        <translation>Das ausgewählte Element löschen</translation>
    </message>
    <message>
        <source>Zoom out</source>
        <translation>Verkleinern</translation>
    </message>
    <message>
        <source>Show the picture smaller</source>
        <translation>Das Bild kleiner zeigen</translation>
    </message>
    <message>
        <source>Zoom in</source>
        <translation>Vergrößern</translation>
    </message>
    <message>
        <source>Show the picture larger, to mark small things exactly</source>
        <translation>Das Bild größer zeigen, um Kleines genau zu markieren</translation>
    </message>
    <message>
        <source>Fit</source>
        <translation>Einpassen</translation>
    </message>
    <message>
        <source>Show the whole picture</source>
        <translation>Das ganze Bild zeigen</translation>
    </message>
    <message>
        <source>Actual size</source>
        <translation>Originalgröße</translation>
    </message>
    <message>
        <source>One screen pixel for each pixel of the picture</source>
        <translation>Ein Bildschirmpixel für jedes Pixel des Bildes</translation>
    </message>
    <message>
        <source>Type, then press Enter</source>
        <translation>Tippen, dann Eingabe drücken</translation>
    </message>
    <message>
        <source>Text to add to the picture</source>
        <translation>Text für das Bild</translation>
    </message>
    <message>
        <source>Picture to mark up</source>
        <translation>Bild zum Markieren</translation>
    </message>
    <message>
        <source>Mark-up items: %1</source>
        <translation>Markierungen: %1</translation>
    </message>
    <message>
        <source>%1; selected: %2</source>
        <translation>%1; ausgewählt: %2</translation>
    </message>
    <message>
        <source>Zoom level</source>
        <translation>Vergrößerung</translation>
    </message>
    <message>
        <source>Move the view sideways</source>
        <translation>Ansicht seitwärts verschieben</translation>
    </message>
    <message>
        <source>Move the view up or down</source>
        <translation>Ansicht nach oben oder unten verschieben</translation>
    </message>
</context>
<context>
    <name>OnScreenKeyboard</name>
    <message>
        <source>Shift</source>
        <translation>Umschalt</translation>
    </message>
    <message>
        <source>Backspace</source>
        <translation>Rücktaste</translation>
    </message>
    <message>
        <source>Space</source>
        <translation>Leertaste</translation>
    </message>
    <message>
        <source>New line</source>
        <translation>Neue Zeile</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>Fertig</translation>
    </message>
    <message>
        <source>Numbers and symbols</source>
        <translation>Ziffern und Zeichen</translation>
    </message>
    <message>
        <source>Letters</source>
        <translation>Buchstaben</translation>
    </message>
    <message>
        <source>Hide keyboard</source>
        <translation>Tastatur ausblenden</translation>
    </message>
</context>
<context>
    <name>OutboxPanel</name>
    <message>
        <source>Reports waiting to be sent</source>
        <translation>Meldungen, die auf das Senden warten</translation>
    </message>
    <message>
        <source>Nothing is waiting to be sent.</source>
        <translation>Nichts wartet auf das Senden.</translation>
    </message>
    <message numerus="yes">
        <source>Reports waiting to be sent: %n</source>
        <translation>
            <numerusform>Meldungen, die auf das Senden warten: %n</numerusform>
            <numerusform>Meldungen, die auf das Senden warten: %n</numerusform>
        </translation>
    </message>
    <message>
        <source>Receipt %1: %2</source>
        <translation>Beleg %1: %2</translation>
    </message>
    <message numerus="yes">
        <source>… and %n more.</source>
        <translation>
            <numerusform>… und %n weitere.</numerusform>
            <numerusform>… und %n weitere.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>ReviewScreen</name>
    <message>
        <source>Check before sending</source>
        <translation>Vor dem Senden prüfen</translation>
    </message>
    <message>
        <source>Your steps</source>
        <translation>Ihre Schritte</translation>
    </message>
    <message>
        <source>Technical information groups</source>
        <translation>Gruppen technischer Informationen</translation>
    </message>
    <message>
        <source>No steps. That is fine: the help desk will ask if it needs to see more.</source>
        <translation>Keine Schritte. Kein Problem: Der Helpdesk fragt nach, wenn er mehr sehen muss.</translation>
    </message>
    <message>
        <source>About this kiosk</source>
        <translation>Über diesen Kiosk</translation>
    </message>
    <message>
        <source>This technical information goes with your request. Switch off what you do not want to send.</source>
        <translation>Diese technischen Informationen gehen mit Ihrer Anfrage mit. Schalten Sie aus, was Sie nicht senden möchten.</translation>
    </message>
    <message>
        <source>Show exactly what is sent</source>
        <translation>Genau zeigen, was gesendet wird</translation>
    </message>
    <message>
        <source>Draw on the picture. Black boxes hide what is under them for good.</source>
        <translation>Zeichnen Sie auf das Bild. Schwarze Kästen verbergen, was darunter ist, endgültig.</translation>
    </message>
    <message>
        <source>System information that will be sent</source>
        <translation>Systeminformationen, die gesendet werden</translation>
    </message>
    <message>
        <source>Save mark-up</source>
        <translation>Markierungen speichern</translation>
    </message>
    <message>
        <source>Send ›</source>
        <translation>Senden ›</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>Senden</translation>
    </message>
    <message>
        <source>Your steps and clips</source>
        <translation>Ihre Schritte und Videos</translation>
    </message>
    <message>
        <source>Send %1</source>
        <translation>%1 senden</translation>
    </message>
    <message>
        <source>Collecting technical information…</source>
        <translation>Technische Informationen werden gesammelt…</translation>
    </message>
    <message>
        <source>Clip %1 removed.</source>
        <translation>Video %1 entfernt.</translation>
    </message>
    <message>
        <source>Undo: bring the clip back</source>
        <translation>Rückgängig: das Video zurückholen</translation>
    </message>
    <message>
        <source>Step %1 deleted.</source>
        <translation>Schritt %1 gelöscht.</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>Rückgängig</translation>
    </message>
    <message>
        <source>Undo: bring the step back</source>
        <translation>Rückgängig: den Schritt zurückholen</translation>
    </message>
    <message>
        <source>The raw data, exactly as it is sent.</source>
        <translation>Die Rohdaten, genau so, wie sie gesendet werden.</translation>
    </message>
    <message>
        <source>Show as text</source>
        <translation>Als Text zeigen</translation>
    </message>
    <message>
        <source>What goes with your request, in words.</source>
        <translation>Was mit Ihrer Anfrage mitgeht, in Worten.</translation>
    </message>
    <message>
        <source>Show the raw data</source>
        <translation>Rohdaten zeigen</translation>
    </message>
</context>
<context>
    <name>SendScreen</name>
    <message>
        <source>Send your request</source>
        <translation>Anfrage senden</translation>
    </message>
    <message>
        <source>You are sending</source>
        <translation>Sie senden</translation>
    </message>
    <message>
        <source>As a guest</source>
        <translation>Als Gast</translation>
    </message>
    <message>
        <source>With your badge</source>
        <translation>Mit Ihrem Ausweis</translation>
    </message>
    <message>
        <source>As %1 (%2)</source>
        <translation>Als %1 (%2)</translation>
    </message>
    <message>
        <source>Problem: %1</source>
        <translation>Problem: %1</translation>
    </message>
    <message>
        <source>In your words: “%1”</source>
        <translation>In Ihren Worten: „%1“</translation>
    </message>
    <message numerus="yes">
        <source>%n picture(s) of the problem</source>
        <translation>
            <numerusform>%n Bild des Problems</numerusform>
            <numerusform>%n Bilder des Problems</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n clip(s) of the screen</source>
        <translation>
            <numerusform>%n Video vom Bildschirm</numerusform>
            <numerusform>%n Videos vom Bildschirm</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n group(s) of technical information</source>
        <translation>
            <numerusform>%n Gruppe technischer Informationen</numerusform>
            <numerusform>%n Gruppen technischer Informationen</numerusform>
        </translation>
    </message>
    <message>
        <source>Send now</source>
        <translation>Jetzt senden</translation>
    </message>
    <message>
        <source>Your request could not be saved. Please ask at the desk.</source>
        <translation>Ihre Anfrage konnte nicht gespeichert werden. Bitte fragen Sie am Schalter.</translation>
    </message>
    <message>
        <source>Sending… you can stay on this screen.</source>
        <translation>Wird gesendet… Sie können auf diesem Bildschirm bleiben.</translation>
    </message>
    <message>
        <source>Upload progress</source>
        <translation>Fortschritt beim Hochladen</translation>
    </message>
</context>
<context>
    <name>ShowScreen</name>
    <message>
        <source>Show us the problem</source>
        <translation>Zeigen Sie uns das Problem</translation>
    </message>
    <message>
        <source>A picture says more than a paragraph. Capture each step, or skip this if there is nothing to show.</source>
        <translation>Ein Bild sagt mehr als ein Absatz. Nehmen Sie jeden Schritt auf, oder überspringen Sie dies, wenn es nichts zu zeigen gibt.</translation>
    </message>
    <message>
        <source>Show me on this kiosk</source>
        <translation>Auf diesem Kiosk zeigen</translation>
    </message>
    <message>
        <source>Open an app, do what goes wrong and tap Capture at each step. Tap Done to come back.</source>
        <translation>Öffnen Sie eine App, machen Sie, was schiefgeht, und tippen Sie bei jedem Schritt auf Aufnehmen. Mit Fertig kommen Sie zurück.</translation>
    </message>
    <message>
        <source>Open %1</source>
        <translation>%1 öffnen</translation>
    </message>
    <message>
        <source>Take a photo</source>
        <translation>Ein Foto machen</translation>
    </message>
    <message>
        <source>An error on your phone or a broken screen? Hold it up to the camera.</source>
        <translation>Ein Fehler auf dem Handy oder ein kaputter Bildschirm? Halten Sie es vor die Kamera.</translation>
    </message>
    <message>
        <source>Use the camera</source>
        <translation>Kamera verwenden</translation>
    </message>
    <message>
        <source>Take photo</source>
        <translation>Foto aufnehmen</translation>
    </message>
    <message>
        <source>This kiosk has no camera.</source>
        <translation>Dieser Kiosk hat keine Kamera.</translation>
    </message>
    <message>
        <source>Open an app, do what goes wrong and tap Capture at each step, or Record to film it. Tap Done to come back.</source>
        <translation>Öffnen Sie eine App, machen Sie, was schiefgeht, und tippen Sie bei jedem Schritt auf Aufnehmen – oder auf Aufzeichnen, um es zu filmen. Mit Fertig kommen Sie zurück.</translation>
    </message>
    <message>
        <source>That app could not be opened. Please take a photo or tell us at the desk.</source>
        <translation>Diese App ließ sich nicht öffnen. Bitte machen Sie ein Foto oder sagen Sie es uns am Schalter.</translation>
    </message>
    <message>
        <source>No steps yet.</source>
        <translation>Noch keine Schritte.</translation>
    </message>
    <message numerus="yes">
        <source>Your steps so far: %n</source>
        <translation>
            <numerusform>Bisher %n Schritt</numerusform>
            <numerusform>Bisher %n Schritte</numerusform>
        </translation>
    </message>
    <message>
        <source>Step %1</source>
        <translation>Schritt %1</translation>
    </message>
    <message>
        <source>Continue ›</source>
        <translation>Weiter ›</translation>
    </message>
    <message>
        <source>Continue</source>
        <translation>Weiter</translation>
    </message>
    <message>
        <source>Skip ›</source>
        <translation>Überspringen ›</translation>
    </message>
    <message>
        <source>Skip this step</source>
        <translation>Diesen Schritt überspringen</translation>
    </message>
    <message>
        <source>Hold it steady, then tap Take photo.</source>
        <translation>Ruhig halten, dann auf Foto aufnehmen tippen.</translation>
    </message>
    <message>
        <source>Taking the photo…</source>
        <translation>Foto wird aufgenommen…</translation>
    </message>
    <message>
        <source>Saving the photo…</source>
        <translation>Foto wird gespeichert…</translation>
    </message>
    <message>
        <source>The photo did not work. Please try again.</source>
        <translation>Das Foto hat nicht geklappt. Bitte erneut versuchen.</translation>
    </message>
</context>
<context>
    <name>StepCard</name>
    <message>
        <source>Step %1</source>
        <translation>Schritt %1</translation>
    </message>
    <message>
        <source>Marked up</source>
        <translation>Markiert</translation>
    </message>
    <message>
        <source>Mark up</source>
        <translation>Markieren</translation>
    </message>
    <message>
        <source>Mark up step %1</source>
        <translation>Schritt %1 markieren</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Löschen</translation>
    </message>
    <message>
        <source>Delete step %1</source>
        <translation>Schritt %1 löschen</translation>
    </message>
</context>
<context>
    <name>SysinfoGroups</name>
    <message>
        <source>Operating system</source>
        <translation>Betriebssystem</translation>
    </message>
    <message>
        <source>Clock</source>
        <translation>Uhr</translation>
    </message>
    <message>
        <source>Processor</source>
        <translation>Prozessor</translation>
    </message>
    <message>
        <source>Memory</source>
        <translation>Arbeitsspeicher</translation>
    </message>
    <message>
        <source>Disks</source>
        <translation>Laufwerke</translation>
    </message>
    <message>
        <source>Network</source>
        <translation>Netzwerk</translation>
    </message>
    <message>
        <source>Proxy settings</source>
        <translation>Proxy-Einstellungen</translation>
    </message>
    <message>
        <source>Battery</source>
        <translation>Akku</translation>
    </message>
    <message>
        <source>Displays</source>
        <translation>Bildschirme</translation>
    </message>
    <message>
        <source>Busiest programs</source>
        <translation>Aktivste Programme</translation>
    </message>
    <message>
        <source>ShowDesk</source>
        <translation>ShowDesk</translation>
    </message>
    <message>
        <source>Connection to the help desk</source>
        <translation>Verbindung zum Helpdesk</translation>
    </message>
</context>
<context>
    <name>TouchScrollArea</name>
    <message>
        <source>▼ More below: drag to scroll</source>
        <translation>▼ Mehr weiter unten: zum Blättern ziehen</translation>
    </message>
</context>
<context>
    <name>WelcomeScreen</name>
    <message>
        <source>Touch to start</source>
        <translation>Zum Starten berühren</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>Starten</translation>
    </message>
    <message>
        <source>Language: %1</source>
        <translation>Sprache: %1</translation>
    </message>
    <message>
        <source>High contrast</source>
        <translation>Hoher Kontrast</translation>
    </message>
</context>
<context>
    <name>WhatScreen</name>
    <message>
        <source>What is the problem?</source>
        <translation>Was ist das Problem?</translation>
    </message>
    <message>
        <source>Choose what fits best</source>
        <translation>Wählen Sie, was am besten passt</translation>
    </message>
    <message>
        <source>Category: %1</source>
        <translation>Kategorie: %1</translation>
    </message>
    <message>
        <source>In a few words (optional)</source>
        <translation>In wenigen Worten (optional)</translation>
    </message>
    <message>
        <source>Description (optional)</source>
        <translation>Beschreibung (optional)</translation>
    </message>
    <message>
        <source>For example: the printer on floor 2 says &apos;offline&apos;</source>
        <translation>Zum Beispiel: Der Drucker im 2. Stock meldet „offline“</translation>
    </message>
    <message>
        <source>This may help right away</source>
        <translation>Das hilft vielleicht sofort</translation>
    </message>
    <message>
        <source>Scan a code with your phone to open the article.</source>
        <translation>Scannen Sie einen Code mit dem Handy, um den Artikel zu öffnen.</translation>
    </message>
    <message>
        <source>This solved it, thanks</source>
        <translation>Das hat geholfen, danke</translation>
    </message>
    <message>
        <source>Continue ›</source>
        <translation>Weiter ›</translation>
    </message>
    <message>
        <source>Continue</source>
        <translation>Weiter</translation>
    </message>
    <message>
        <source>QR code to the article: %1</source>
        <translation>QR-Code zum Artikel: %1</translation>
    </message>
    <message>
        <source>%1 of %2 characters</source>
        <translation>%1 von %2 Zeichen</translation>
    </message>
</context>
<context>
    <name>WhoScreen</name>
    <message>
        <source>Who are you?</source>
        <translation>Wer sind Sie?</translation>
    </message>
    <message>
        <source>Your name and e-mail</source>
        <translation>Ihr Name und Ihre E-Mail</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>First and last name</source>
        <translation>Vor- und Nachname</translation>
    </message>
    <message>
        <source>E-mail</source>
        <translation>E-Mail</translation>
    </message>
    <message>
        <source>name@example.org</source>
        <translation>name@beispiel.de</translation>
    </message>
    <message>
        <source>Or scan your badge</source>
        <translation>Oder scannen Sie Ihren Ausweis</translation>
    </message>
    <message>
        <source>Hold your badge to the reader. We only keep its number with your request.</source>
        <translation>Halten Sie Ihren Ausweis an das Lesegerät. Wir speichern nur seine Nummer mit Ihrer Anfrage.</translation>
    </message>
    <message>
        <source>Continue as guest</source>
        <translation>Als Gast fortfahren</translation>
    </message>
    <message>
        <source>Continue ›</source>
        <translation>Weiter ›</translation>
    </message>
    <message>
        <source>Continue</source>
        <translation>Weiter</translation>
    </message>
    <message>
        <source>Please enter your name.</source>
        <translation>Bitte geben Sie Ihren Namen ein.</translation>
    </message>
    <message>
        <source>Please check your e-mail address, e.g. name@example.org.</source>
        <translation>Bitte prüfen Sie Ihre E-Mail-Adresse, z. B. name@beispiel.de.</translation>
    </message>
    <message>
        <source>The badge could not be read. Please try again or type your name.</source>
        <translation>Der Ausweis konnte nicht gelesen werden. Bitte erneut versuchen oder den Namen eingeben.</translation>
    </message>
</context>
</TS>
