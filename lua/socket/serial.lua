-- socket.serial: WASI 0.2 has no serial ports (nor file descriptors to open them as).
error("socket.serial is not available: WASI 0.2 has no serial devices", 2)
