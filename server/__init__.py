"""The built-in ticket server. Shares only agent.schema with the rest of ShowDesk."""
