-- socket.unix: Unix-domain sockets do not exist in WASI 0.2, so there is nothing to load.
error("socket.unix is not available: WASI 0.2 has no Unix-domain sockets (use TCP on loopback)", 2)
