"""``make csrf``: Cookie vs Bearer in a real (headless Chromium) browser, against an attacker page
on another site. ``pages`` and ``outcome`` are pure; ``browser`` drives Chromium; ``run`` is the
experiment."""
