/* A C module for tests/rocks.rs: cmod.answer() is 42. */
#include <lua.h>
#include <lauxlib.h>

static int answer(lua_State *L) {
    lua_pushinteger(L, 42);
    return 1;
}

int luaopen_cmod(lua_State *L) {
    static const luaL_Reg functions[] = {{"answer", answer}, {NULL, NULL}};
    luaL_newlib(L, functions);
    return 1;
}
