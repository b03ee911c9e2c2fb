"""A stand-in for xdg-desktop-portal's Screenshot interface, on a private session bus.

Run under ``dbus-run-session`` (tests/laptop/test_portal.py does): it prints the bus address,
then answers ``org.freedesktop.portal.Screenshot.Screenshot`` the documented way: it replies with
the request object's path (derived from the caller's bus name and its ``handle_token``) and then
emits ``org.freedesktop.portal.Request.Response`` on that path with the picture's ``uri``.

    python fake_portal.py OUT_DIR {ok|cancel|absent}

``ok`` writes OUT_DIR/Screenshot.png (a picture whose pixels encode their position) and answers
0; ``cancel`` answers 1 (the person cancelled); ``absent`` never takes the portal's name. It exits
when its standard input closes. Talks D-Bus through jeepney (pure Python).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

SIZE = (1600, 1200)


def picture(path: Path) -> None:
    from tests.fixtures.xvfb import position_pattern

    position_pattern(*SIZE).save(path, "PNG")


def main() -> None:
    out_dir, behaviour = Path(sys.argv[1]), sys.argv[2]
    connection = open_dbus_connection(bus="SESSION")
    if behaviour != "absent":
        connection.send_and_get_reply(message_bus.RequestName("org.freedesktop.portal.Desktop", 4))
    print(os.environ["DBUS_SESSION_BUS_ADDRESS"], flush=True)
    # The test ends us by closing our standard input.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    while True:
        message = connection.receive()
        header = message.header
        if header.message_type != MessageType.method_call:
            continue
        member = header.fields.get(HeaderFields.member)
        interface = header.fields.get(HeaderFields.interface)
        if (interface, member) != ("org.freedesktop.portal.Screenshot", "Screenshot"):
            connection.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", ("no such method",)))
            continue
        _parent, options = message.body
        token = options.get("handle_token", ("s", "t"))[1]
        sender = header.fields[HeaderFields.sender].lstrip(":").replace(".", "_")
        path = f"/org/freedesktop/portal/desktop/request/{sender}/{token}"
        connection.send(new_method_return(message, "o", (path,)))
        request = DBusAddress(path, interface="org.freedesktop.portal.Request")
        if behaviour == "ok":
            target = out_dir / "Screenshot.png"
            picture(target)
            results = {"uri": ("s", target.as_uri())}
            connection.send(new_signal(request, "Response", "ua{sv}", (0, results)))
        else:
            connection.send(new_signal(request, "Response", "ua{sv}", (1, {})))


if __name__ == "__main__":
    main()
