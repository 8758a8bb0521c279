-----------------------------------------------------------------------------
-- ssl: LuaSec's API over rustls, inside the sandbox.
-- Contexts, wrapping a connected TCP object, certificates. Differences from
-- LuaSec: the peer is verified unless verify = "none" is asked for (LuaSec's
-- default is not to verify); cipher and option names outside what rustls
-- offers are refused; roots are Mozilla's set plus cafile/capath.
-----------------------------------------------------------------------------
local core = require("ssl.core")

local _M = {
    _VERSION = "1.3.2",
    _COPYRIGHT = "luasocket-wasi (LuaSec API over rustls)",
    loadcertificate = core.loadcertificate,
}

-- What this build supports, in the shape of LuaSec's ssl.config.
_M.config = {
    protocols = { tlsv1_2 = true, tlsv1_3 = true },
    algorithms = { ec = true },
    capabilities = { alpn = true, curves_list = true },
    curves = { X25519 = true, ["P-256"] = true, ["P-384"] = true,
               prime256v1 = true, secp384r1 = true },
    verify = { none = true, peer = true, fail_if_no_peer_cert = true, client_once = true },
    options = {
        all = true, no_sslv2 = true, no_sslv3 = true, no_tlsv1 = true, no_tlsv1_1 = true,
        no_tlsv1_2 = true, no_tlsv1_3 = true, no_compression = true,
        no_renegotiation = true, single_dh_use = true, single_ecdh_use = true,
        cipher_server_preference = true, no_ticket = true,
    },
}

-- ssl.newcontext(params) -> context | nil, err
function _M.newcontext(cfg)
    if type(cfg) ~= "table" then
        error("bad argument #1 to 'newcontext' (table expected, got " .. type(cfg) .. ")", 2)
    end
    -- LuaSec hands the mode to setmode, which checks it is a string.
    local mode = cfg.mode
    if type(mode) ~= "string" and type(mode) ~= "number" then
        error("bad argument #2 to 'setmode' (string expected, got " .. type(mode) .. ")")
    end
    local ctx, err = core.newcontext(cfg)
    if not ctx then return nil, err end
    if cfg.verifyext then
        -- As LuaSec: a flag or a list of flags, set through the context's method.
        local flags = cfg.verifyext
        if type(flags) ~= "table" then flags = { flags } end
        local ok, msg = ctx:setverifyext(table.unpack(flags))
        if not ok then return nil, msg end
    end
    return ctx
end

-- ssl.wrap(sock, params | context) -> connection | nil, err
-- The TCP object must be connected; it is left closed, its connection taken over.
-- Parameters make a context first, as LuaSec's wrap does. (A function of its own, so
-- that argument errors name ssl.core.wrap, always.)
function _M.wrap(sock, cfg)
    if type(cfg) == "table" then
        local ctx, err = _M.newcontext(cfg)
        if not ctx then return nil, err end
        cfg = ctx
    end
    return core.wrap(sock, cfg)
end

return _M
