"""The hub's core: settings, tokens and sessions, the login guard, rejections, the web plumbing every
capability shares."""
