"""What every Socket.IO connection goes through: the origin check, sign-in on connect, the registry of connected
sockets, and taking sockets out of rooms (or disconnecting them) when someone's access changes."""
