-- A rock with a C module, built by luarocks with the system's C compiler: it works under
-- native Lua, and must be refused with a clear message inside the sandbox.
rockspec_format = "3.0"
package = "cmod"
version = "1.0-1"
source = {
   url = "file://cmod.c",
}
description = {
   summary = "A C module, for tests/rocks.rs.",
   license = "MIT",
}
build = {
   type = "builtin",
   modules = {
      cmod = "cmod.c",
   },
}
