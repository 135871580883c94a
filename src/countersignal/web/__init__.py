"""The moderators' web UI: server-rendered pages over the same service functions as the API.

Security: server-side sessions (HttpOnly, SameSite=Strict, Secure cookies), a CSRF token on
every form, a strict Content-Security-Policy (scripts only from this origin, no inline script),
and content shown blurred and greyscale until the reviewer asks to see it.
"""
