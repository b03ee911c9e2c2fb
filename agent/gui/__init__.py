"""The laptop agent's Qt windows. The only part of agent/ that may import Qt."""
