"""Calendar: the `Calendar` port (an owner's busy times, booking by UID), the pure first-free-slot search,
the CalDAV adapter over caldav, and a fake for tests."""
