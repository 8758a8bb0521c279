//! TLS inside the sandbox (`require "ssl"`, `ssl.https`) against real TLS peers on
//! loopback: `openssl s_server`, nginx, Python's ssl module, and curl as a client of a
//! Lua TLS server. Certificates are made here (rcgen), including expired and not yet
//! valid ones, under a CA the component only trusts when told to.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::pki::Pki;
use common::servers::{https_echo, nginx_tls, openssl_server};
use common::{Lines, cli, lua, ok, scratch, stdout, wait_within};

/// s_server with the named certificate, answering `GET /` with its status page.
fn s_server(pki: &Pki, cert: &str, extra: &[&str]) -> common::servers::Server {
    let (c, k) = (
        pki.path(&format!("{cert}.pem")),
        pki.path(&format!("{cert}.key")),
    );
    let mut args = vec!["-cert", &c, "-key", &k, "-www"];
    args.extend_from_slice(extra);
    openssl_server(&args)
}

/// A Lua prelude: `handshake(port, params [, sni])` → conn or nil, err.
const CONNECT: &str = r#"
local socket = require "socket"
local ssl = require "ssl"
local function handshake(port, params, sni)
    params.mode = params.mode or "client"
    local tcp = assert(socket.connect("127.0.0.1", port))
    local conn, err = ssl.wrap(tcp, params)
    if not conn then return nil, err end
    if sni then conn:sni(sni) end
    local ok, err = conn:dohandshake()
    if not ok then conn:close() return nil, err end
    return conn
end
"#;

#[test]
fn a_verified_session_with_a_custom_ca_describes_itself_as_luasec_does() {
    let pki = Pki::new("tls-verified");
    let server = s_server(&pki, "server", &[]);
    let out = pki.run(&format!(
        r#"{CONNECT}
        local conn = assert(handshake({port}, {{ cafile = "/pki/ca.pem" }}, "localhost"))
        print(conn:getpeerverification())
        local info = conn:info()
        print(info.protocol, info.cipher, conn:info("protocol"))
        local cert = conn:getpeercertificate()
        for _, e in ipairs(cert:subject()) do print("subject", e.oid, e.name, e.value) end
        print("issuer", cert:issuer()[1].value)
        print("serial", cert:serial())
        print("dates", cert:notbefore(), cert:notafter())
        print("sha256", cert:digest("sha256"))
        local san = cert:extensions()["2.5.29.17"]
        print("san", san.name, table.concat(san.dNSName, ","), table.concat(san.iPAddress, ","))
        print("info", info.key, info.authentication, info.encryption, info.mac, info.bits)
        print("pubkey", select(2, cert:pubkey()))
        print("pem", cert:pem() == io.open("/pki/server.pem"):read("a"))
        print("validat", cert:validat(os.time()), cert:validat(0))
        print("chain", #conn:getpeerchain(), conn:getpeerchain()[1]:pem() == cert:pem())
        print("loaded", ssl.loadcertificate(cert:pem()):digest() == cert:digest())
        assert(conn:send("GET / HTTP/1.0\r\n\r\n"))
        print("line", (conn:receive("*l")))
        local rest, err, partial = conn:receive("*a")
        print("rest", rest and #rest > 0)
        print("stats", conn:getstats())
        conn:close()
        print("after close", conn:getfd(), (select(2, conn:receive())))
        "#,
        port = server.port
    ));
    let der = std::fs::read(pki.file("server.der")).unwrap();
    let sha256 = ring_sha256(&der);
    let expected = [
        "true".to_string(),
        "TLSv1.3\tTLS_CHACHA20_POLY1305_SHA256\tTLSv1.3".into(),
        "subject\t2.5.4.3\tcommonName\tlocalhost".into(),
        "subject\t2.5.4.10\torganizationName\tluasocket-wasi tests".into(),
        "issuer\tluasocket-wasi test CA".into(),
        "serial\t0BADF00D".into(),
        "dates\tJan  1 00:00:00 2025 GMT\tJan  1 00:00:00 2099 GMT".into(),
        format!("sha256\t{sha256}"),
        "san\tX509v3 Subject Alternative Name\tlocalhost\t127.0.0.1,::1".into(),
        "info\tany\tany\tCHACHA20/POLY1305(256)\tAEAD\t256.0".into(),
        "pubkey\tEC\t256".into(),
        "pem\ttrue".into(),
        "validat\ttrue\tfalse".into(),
        "chain\t1\ttrue".into(),
        "loaded\ttrue".into(),
        "line\tHTTP/1.0 200 ok".into(),
        "rest\ttrue".into(),
    ];
    let lines: Vec<&str> = out.lines().collect();
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(lines[i], want, "line {i} of:\n{out}");
    }
    assert!(lines[17].starts_with("stats\t"), "{out}");
    assert_eq!(lines[18], "after close\t-1.0\tclosed", "{out}");
}

/// SHA-256 in hex, from openssl (the test does not trust the component's own digest).
fn ring_sha256(data: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), data).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn bad_certificates_fail_the_handshake_unless_verification_is_off() {
    let pki = Pki::new("tls-failures");
    let good = s_server(&pki, "server", &[]);
    let expired = s_server(&pki, "expired", &[]);
    let future = s_server(&pki, "future", &[]);
    let out = pki.run(&format!(
        r#"{CONNECT}
        print("default roots", handshake({good}, {{}}, "localhost"))
        print("wrong name", handshake({good}, {{ cafile = "/pki/ca.pem" }}, "other.example"))
        print("by address", handshake({good}, {{ cafile = "/pki/ca.pem" }}) ~= nil)
        print("expired", handshake({expired}, {{ cafile = "/pki/ca.pem" }}, "localhost"))
        print("future", handshake({future}, {{ cafile = "/pki/ca.pem" }}, "localhost"))
        local conn = assert(handshake({expired}, {{ verify = "none" }}, "localhost"))
        local ok, problems = conn:getpeerverification()
        print("none", ok, problems)
        assert(conn:send("GET / HTTP/1.0\r\n\r\n"))
        print("none talks", (conn:receive()))
        "#,
        good = good.port,
        expired = expired.port,
        future = future.port
    ));
    assert_eq!(
        out,
        "default roots\tnil\tcertificate verify failed: unable to get local issuer certificate\n\
         wrong name\tnil\tcertificate verify failed: hostname mismatch\n\
         by address\ttrue\n\
         expired\tnil\tcertificate verify failed: certificate has expired\n\
         future\tnil\tcertificate verify failed: certificate is not yet valid\n\
         none\tfalse\tcertificate has expired\n\
         none talks\tHTTP/1.0 200 ok\n"
    );
}

#[test]
fn protocol_versions_alpn_and_sni_are_negotiated() {
    let pki = Pki::new("tls-versions");
    let tls12 = s_server(&pki, "server", &["-tls1_2"]);
    let tls13 = s_server(&pki, "server", &["-tls1_3"]);
    let alpn = s_server(&pki, "server", &["-alpn", "h2,http/1.1"]);
    let (other, other_key) = (pki.path("other.pem"), pki.path("other.key"));
    let sni = s_server(
        &pki,
        "server",
        &[
            "-servername",
            "other.example",
            "-cert2",
            &other,
            "-key2",
            &other_key,
        ],
    );
    let out = pki.run(&format!(
        r#"{CONNECT}
        local ca = "/pki/ca.pem"
        -- s_server serves one connection at a time: close each before the next.
        local function with(port, params, sni, f)
            local c, err = handshake(port, params, sni)
            if not c then return print(f and "" or "", err) end
            f(c)
            c:close()
        end
        with({tls12}, {{ cafile = ca }}, "localhost", function(c)
            print("any vs 1.2", c:info("protocol"), c:info("cipher")) end)
        print("1.3 vs 1.2", handshake({tls12}, {{ cafile = ca, protocol = "tlsv1_3" }}, "localhost"))
        with({tls13}, {{ cafile = ca, protocol = "tlsv1_3" }}, "localhost", function(c)
            print("1.3", c:info("protocol")) end)
        with({tls12}, {{ cafile = ca, protocol = "tlsv1_2",
            ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256" }}, "localhost", function(c)
            print("1.2 cipher", c:info("cipher")) end)
        with({tls13}, {{ cafile = ca, ciphersuites = "TLS_AES_256_GCM_SHA384" }}, "localhost",
            function(c) print("1.3 suite", c:info("cipher")) end)
        with({alpn}, {{ cafile = ca, alpn = {{ "http/1.1" }} }}, "localhost", function(c)
            print("alpn", c:getalpn()) end)
        with({alpn}, {{ cafile = ca }}, "localhost", function(c)
            print("no alpn", c:getalpn()) end)
        with({sni}, {{ cafile = ca }}, "other.example", function(c)
            print("sni", c:getpeercertificate():subject()[1].value) end)
        with({sni}, {{ cafile = ca }}, "localhost", function(c)
            print("default", c:getpeercertificate():subject()[1].value) end)
        "#,
        tls12 = tls12.port,
        tls13 = tls13.port,
        alpn = alpn.port,
        sni = sni.port
    ));
    assert_eq!(
        out,
        "any vs 1.2\tTLSv1.2\tECDHE-ECDSA-CHACHA20-POLY1305\n\
         1.3 vs 1.2\tnil\tunsupported protocol\n\
         1.3\tTLSv1.3\n\
         1.2 cipher\tECDHE-ECDSA-AES128-GCM-SHA256\n\
         1.3 suite\tTLS_AES_256_GCM_SHA384\n\
         alpn\thttp/1.1\n\
         no alpn\tnil\n\
         sni\tother.example\n\
         default\tlocalhost\n"
    );
}

#[test]
fn bad_parameters_and_misuse_get_clear_answers() {
    let pki = Pki::new("tls-params");
    let server = s_server(&pki, "server", &[]);
    let out = pki.run(&format!(
        r#"{CONNECT}
        local function try(p) return select(2, ssl.newcontext(p)) end
        print(try{{ mode = "client", ciphers = "RC4-MD5" }})
        print(try{{ mode = "client", protocol = "sslv3" }})
        print(try{{ mode = "client", options = {{ "no_sslv2", "bogus" }} }})
        print(try{{ mode = "client", verify = "sometimes" }})
        print(try{{ mode = "client", cafile = "/pki/missing.pem" }})
        print(try{{ mode = "server" }})
        print(try{{ mode = "sideways" }})
        print(pcall(ssl.newcontext, "client"))
        print(pcall(ssl.wrap, 42, {{ mode = "client" }}))
        print(ssl.wrap(socket.tcp(), {{ mode = "client" }}))
        local tcp = assert(socket.connect("127.0.0.1", {port}))
        local conn = assert(ssl.wrap(tcp, {{ mode = "client", cafile = "/pki/ca.pem" }}))
        print("taken over", tcp:getfd(), tcp:send("x"))
        print("before handshake", conn:send("x"))
        print("select sees it", conn:getfd() >= 0)
        conn:sni("localhost")
        assert(conn:dohandshake())
        print("late sni", conn:sni("other.example"))
        print(pcall(conn.receive, conn, "*x"))
        print(pcall(conn.receive, conn, 10, nil, 5))
        conn:close()
        print("twice", pcall(conn.close, conn))
        "#,
        port = server.port
    ));
    let expected = "invalid cipher (RC4-MD5)\n\
        invalid protocol (sslv3)\n\
        invalid option (bogus)\n\
        invalid verify option (sometimes)\n\
        error loading certificate (/pki/missing.pem): No such file or directory\n\
        a server context needs a certificate and a key\n\
        invalid mode\n\
        false\tbad argument #1 to 'newcontext' (table expected, got string)\n\
        false\tssl.lua:64: bad argument #1 to 'wrap' (tcp{client} expected)\n\
        nil\tTransport endpoint is not connected\n\
        taken over\t-1.0\tnil\tclosed\t0.0\n\
        before handshake\tnil\tclosed\t0.0\n\
        select sees it\ttrue\n\
        late sni\n\
        false\tbad argument #2 to '?' (invalid receive pattern)\n\
        false\tbad argument #4 to '?' (pattern asks for more than maxsize)\n\
        twice\ttrue\n";
    let got: Vec<&str> = out.lines().collect();
    for (i, want) in expected.lines().enumerate() {
        let got = got.get(i).copied().unwrap_or("");
        // Elapsed times vary; compare the stable prefix of send/receive results.
        assert!(
            got.starts_with(want),
            "line {i}: want {want:?}, got {got:?}\n{out}"
        );
    }
}

#[test]
fn https_through_socket_http_with_redirects_and_a_byte_exact_50_mb_download() {
    let pki = Pki::new("tls-nginx");
    let dir = scratch("tls-nginx-site");
    let (server, tls_port) = nginx_tls(&dir, &pki.file("server.pem"), &pki.file("server.key"));
    std::fs::write(server.dir.join("hello.txt"), "Hello from nginx\n").unwrap();
    let big: Vec<u8> = (0..50 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(server.dir.join("big.bin"), &big).unwrap();
    let out_dir = scratch("tls-nginx-out");
    let mut options = pki.options();
    options.push("--dir".into());
    options.push(format!("{}::/out", out_dir.display()));
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let base = format!("https://127.0.0.1:{tls_port}");
    let plain = format!("http://127.0.0.1:{}", server.port);
    let out = ok(&lua(
        &options,
        &format!(
            r#"
        local http = require "socket.http"
        local https = require "ssl.https"
        local ltn12 = require "ltn12"
        local ca = "/pki/ca.pem"
        print("simple, default roots", http.request("{base}/hello.txt"))
        local body = {{}}
        local r, code = http.request{{ url = "{base}/hello.txt", cafile = ca,
            sink = ltn12.sink.table(body) }}
        print("generic", r, code, table.concat(body))
        body = {{}}
        r, code = https.request{{ url = "{base}/secure-moved", cafile = ca,
            sink = ltn12.sink.table(body) }}
        print("https to https", code, table.concat(body))
        r, code, headers = https.request{{ url = "{base}/to-plain", cafile = ca,
            sink = ltn12.sink.table({{}}) }}
        print("https to http", code, headers.location)
        r, code = http.request{{ url = "{plain}/to-secure", sink = ltn12.sink.table({{}}) }}
        print("http to https uses the built-in roots", r, code)
        local t0 = require("socket").gettime()
        r, code = https.request{{ url = "{base}/big.bin", cafile = ca,
            sink = ltn12.sink.file(io.open("/out/big.bin", "wb")) }}
        local secs = require("socket").gettime() - t0
        print("big", r, code)
        io.stderr:write(string.format("50 MiB over TLS in %.2f s: %.0f MB/s\n", secs, 50 * 1.048576 / secs))
        "#
        ),
    ));
    assert_eq!(
        out,
        "simple, default roots\tnil\tcertificate verify failed: unable to get local issuer certificate\n\
         generic\t1\t200\tHello from nginx\n\n\
         https to https\t200\tHello from nginx\n\n\
         https to http\t302\thttp://127.0.0.1:PLAIN/hello.txt\n\
         http to https uses the built-in roots\tnil\tcertificate verify failed: unable to get local issuer certificate\n\
         big\t1\t200\n"
            .replace("PLAIN", &server.port.to_string())
    );
    assert!(
        std::fs::read(out_dir.join("big.bin")).unwrap() == big,
        "50 MiB differ"
    );
}

#[test]
fn https_post_reaches_a_python_ssl_server_intact() {
    let pki = Pki::new("tls-post");
    let echo = https_echo(&pki.file("server.pem"), &pki.file("server.key"));
    let out = pki.run(&format!(
        r#"
        local https = require "ssl.https"
        local ltn12 = require "ltn12"
        local data = string.rep("luasocket-wasi over TLS\n", 40000)
        local body = {{}}
        local r, code = https.request{{ url = "https://localhost:{port}/", method = "POST",
            cafile = "/pki/ca.pem", source = ltn12.source.string(data),
            headers = {{ ["content-length"] = #data }}, sink = ltn12.sink.table(body) }}
        print(r, code, table.concat(body))
        body = {{}}
        r, code = https.request{{ url = "https://localhost:{port}/", method = "POST",
            cafile = "/pki/ca.pem", source = ltn12.source.string(data),
            sink = ltn12.sink.table(body) }}
        print("chunked", code, table.concat(body))
        local b
        b, code = https.request("https://localhost:{port}/", "a=1")
        print("simple form verifies", b, code)
        "#,
        port = echo.port
    ));
    let data = "luasocket-wasi over TLS\n".repeat(40000);
    let sha = ring_sha256(data.as_bytes());
    assert_eq!(
        out,
        format!(
            "1\t200\t{len} {sha}\n\nchunked\t200\t{len} {sha}\n\n\
             simple form verifies\tnil\tcertificate verify failed: unable to get local issuer certificate\n",
            len = data.len()
        )
    );
}

#[test]
fn a_select_loop_drives_twenty_non_blocking_handshakes_at_once() {
    let pki = Pki::new("tls-select");
    let dir = scratch("tls-select-site");
    let (server, tls_port) = nginx_tls(&dir, &pki.file("server.pem"), &pki.file("server.key"));
    std::fs::write(server.dir.join("hello.txt"), "Hello from nginx\n").unwrap();
    let out = pki.run(&format!(
        r#"
        local socket = require "socket"
        local ssl = require "ssl"
        local ctx = assert(ssl.newcontext{{ mode = "client", cafile = "/pki/ca.pem" }})
        local pending, wants, done = {{}}, {{ wantread = 0, wantwrite = 0 }}, 0
        for i = 1, 20 do
            local tcp = assert(socket.connect("127.0.0.1", {tls_port}))
            local conn = assert(ssl.wrap(tcp, ctx))
            conn:sni("localhost")
            conn:settimeout(0)
            pending[conn] = "wantwrite"
        end
        while next(pending) do
            local r, w = {{}}, {{}}
            for conn, want in pairs(pending) do
                table.insert(want == "wantread" and r or w, conn)
            end
            local readable, writable = socket.select(r, w, 5)
            local ready = {{}}
            for _, c in ipairs(readable) do ready[#ready + 1] = c end
            for _, c in ipairs(writable) do ready[#ready + 1] = c end
            assert(#ready > 0, "select timed out")
            for _, conn in ipairs(ready) do
                local ok, err = conn:dohandshake()
                if ok then
                    pending[conn] = nil
                    conn:settimeout(5)
                    assert(conn:send("GET /hello.txt HTTP/1.0\r\n\r\n"))
                    local all = conn:receive("*a")
                    if all and all:find("Hello from nginx", 1, true) then done = done + 1 end
                    conn:close()
                else
                    assert(err == "wantread" or err == "wantwrite", err)
                    assert(conn:want() == (err == "wantread" and "read" or "write"))
                    wants[err] = wants[err] + 1
                    pending[conn] = err
                end
            end
        end
        print(done, wants.wantread > 0)
        "#
    ));
    assert_eq!(out, "20\ttrue\n");
}

#[test]
fn a_lua_tls_server_answers_curl_and_checks_client_certificates() {
    let pki = Pki::new("tls-server");
    let script = pki.file("server.lua");
    std::fs::write(
        &script,
        r#"
        local socket = require "socket"
        local ssl = require "ssl"
        local server = assert(socket.bind("127.0.0.1", 0))
        local plain = assert(ssl.newcontext{ mode = "server",
            certificate = "/pki/server.pem", key = "/pki/server.key", alpn = { "http/1.1" } })
        local mutual = assert(ssl.newcontext{ mode = "server",
            certificate = "/pki/server.pem", key = "/pki/server.key",
            cafile = "/pki/ca.pem", verify = { "peer", "fail_if_no_peer_cert" } })
        print((select(2, server:getsockname())))
        io.stdout:flush()
        for round = 1, 3 do
            local client = assert(server:accept())
            local conn = assert(ssl.wrap(client, round == 1 and plain or mutual))
            conn:settimeout(10)
            local ok, err = conn:dohandshake()
            if ok then
                local who = "anonymous"
                if round > 1 then
                    who = conn:getpeercertificate():subject()[1].value
                    assert(conn:getpeerverification())
                end
                local request = conn:receive("*l")
                repeat local line = conn:receive("*l") until line == "" or not line
                local body = "hello " .. who .. " from Lua over " .. conn:info("protocol")
                    .. " (" .. request .. ", sni " .. tostring(conn:getsniname()) .. ")\n"
                conn:send("HTTP/1.1 200 OK\r\nContent-Length: " .. #body
                    .. "\r\nConnection: close\r\n\r\n" .. body)
            else
                io.stderr:write("handshake ", round, ": ", err, "\n")
            end
            conn:close()
        end
        "#,
    )
    .unwrap();
    let mut cmd = cli();
    cmd.args(pki.options())
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let port = Lines::of(&mut child).next();
    let curl = |extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(pki.file("ca.pem"))
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .args(extra)
            .arg(format!("https://localhost:{port}/greeting"))
            .output()
            .expect("curl (scripts/bootstrap.sh test installs it)");
        (out.status.success(), stdout(&out))
    };
    let (anon_ok, anon) = curl(&[]);
    let (cert, key) = (pki.path("client.pem"), pki.path("client.key"));
    let (mutual_ok, mutual) = curl(&["--cert", &cert, "--key", &key]);
    let (refused_ok, _) = curl(&[]);
    let out = wait_within(child, Duration::from_secs(60));
    assert!(
        anon_ok
            && anon.starts_with(
                "hello anonymous from Lua over TLSv1.3 (GET /greeting HTTP/1.1, sni localhost)"
            ),
        "{anon}"
    );
    assert!(
        mutual_ok && mutual.starts_with("hello lua-client from Lua over TLSv1.3"),
        "{mutual}"
    );
    assert!(!refused_ok, "a client without a certificate got through");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("handshake 3: peer did not return a certificate"),
        "{log}"
    );
    assert!(out.status.success(), "{log}");
}

/// The same script under native Lua 5.4 + Debian's LuaSec (OpenSSL) and in the component
/// prints the same, where the two libraries are meant to agree.
#[test]
fn answers_match_native_luasec() {
    let pki = Pki::new("tls-native");
    let server = s_server(&pki, "server", &[]);
    let script = pki.file("compare.lua");
    std::fs::write(
        &script,
        format!(
            r#"
        local root = ...
        local socket = require "socket"
        local ssl = require "ssl"
        local tcp = assert(socket.connect("127.0.0.1", {port}))
        local conn = assert(ssl.wrap(tcp, {{ mode = "client", protocol = "any",
            verify = "peer", cafile = root .. "/ca.pem" }}))
        print("taken", tcp:getfd(), conn:getfd() >= 0)
        print("early", conn:send("x"))
        print("early", conn:receive())
        print("sni", conn:sni("localhost"))
        print("handshake", conn:dohandshake())
        print("verified", conn:getpeerverification())
        print("again", conn:dohandshake())
        conn:settimeout(0.1)
        print("waiting", conn:receive("*l"))
        print("want", conn:want())
        conn:settimeout(0)
        print("waiting", conn:receive(5, "pre"))
        conn:settimeout(5)
        print("send", conn:send("GET / HTTP/1.0\r\n\r\n", 1, -1))
        print("line", conn:receive("*l"))
        print("dirty", conn:dirty())
        print("bytes", conn:receive(4, "ab"))
        local info = conn:info()
        print("info", info.protocol, info.bits, info.algbits, info.mac, conn:info("protocol"))
        local cert = conn:getpeercertificate()
        print("cert", cert:serial(), cert:notbefore(), cert:notafter(), cert:digest(),
            cert:digest("sha256"), cert:digest("sha512"))
        for _, e in ipairs(cert:subject()) do print("subject", e.oid, e.name, e.value) end
        for _, e in ipairs(cert:issuer()) do print("issuer", e.oid, e.name, e.value) end
        local san = cert:extensions()["2.5.29.17"]
        print("san", san.name, san.dNSName[1], san.iPAddress[1], san.iPAddress[2])
        print("pem", cert:pem() == io.open(root .. "/server.pem"):read("a"))
        print("chain", #conn:getpeerchain(), conn:getpeerchain()[1]:serial() == cert:serial())
        print("rest", #assert(conn:receive("*a")) > 0)
        print("eof", conn:receive())
        print("close", conn:close())
        print("closed", conn:getpeerverification())
        print("closed", conn:receive())
        print("tostring", (tostring(conn):gsub("0x%x+", "P")))
        local bad = assert(socket.connect("127.0.0.1", {port}))
        bad = assert(ssl.wrap(bad, {{ mode = "client", protocol = "any", verify = "peer" }}))
        local ok, err = bad:dohandshake()
        print("unknown issuer", ok, (err:gsub("^.*certificate verify failed.*$", "verify failed")))
        "#,
            port = server.port
        ),
    )
    .unwrap();
    let native = Command::new("lua5.4")
        .arg(&script)
        .arg(pki.dir())
        .output()
        .expect("lua5.4 (scripts/bootstrap.sh test installs it with lua-sec)");
    let native = ok(&native);
    let mut cmd = cli();
    cmd.args(pki.options()).arg(&script).arg("/pki");
    let ours = ok(&wait_within(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    ));
    assert_eq!(ours, native);
}
