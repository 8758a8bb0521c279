//! Real servers for the protocol tests, started on free loopback ports and stopped when
//! dropped: nginx (Debian) for HTTP, aiosmtpd and pyftpdlib (PyPI) for SMTP and FTP,
//! redis-server (Debian) for the Redis clients.
//! `scripts/bootstrap.sh test` installs them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Server {
    /// Takes charge of a started server process, to be stopped when dropped.
    pub fn new(child: Child, port: u16, dir: PathBuf) -> Server {
        Server { child, port, dir }
    }

    /// Whether the process has exited (a server that failed to start).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    /// A polite stop first: nginx's master only takes its workers down with it when
    /// asked (SIGTERM); killed outright, it would leave them running.
    fn drop(&mut self) {
        // SAFETY: signalling our own child process.
        unsafe { kill(self.child.id() as i32, 15) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

unsafe extern "C" {
    fn kill(pid: i32, signal: i32) -> i32;
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16, child: &mut Child, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what} did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a server that picks its own port and announces it as "ready PORT".
fn announced(mut command: Command, what: &str) -> (Child, u16) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .expect("read the port");
    let port = line
        .trim()
        .strip_prefix("ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{what} did not announce its port: {line:?}"));
    (child, port)
}

fn servers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/servers")
}

/// nginx serving `root` (static files, redirects, Basic auth under /private, chunked
/// answers via SSI under /chunked, PUT uploads into `root/uploads`).
pub fn nginx(dir: &Path) -> Server {
    // The port is chosen before nginx binds it, so another test may take it first: then
    // nginx exits, or the port answers but not as nginx; either way, try another.
    for _ in 0..20 {
        if let Some(server) = nginx_on(dir, free_port(), "") {
            return server;
        }
    }
    panic!("nginx did not start on any of 20 ports");
}

/// nginx as [`nginx`] serves it, plus HTTPS on the returned port with `cert`/`key`
/// (TLS 1.2 and 1.3), and redirects from https to https (`/secure-moved`), to http
/// (`/to-plain`), and from http to https (`/to-secure`).
pub fn nginx_tls(dir: &Path, cert: &Path, key: &Path) -> (Server, u16) {
    for _ in 0..20 {
        let (port, tls_port) = (free_port(), free_port());
        let extra = format!(
            "listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location = /secure-moved {{ return 302 https://127.0.0.1:{tls_port}/hello.txt; }}
        location = /to-secure {{ return 302 https://127.0.0.1:{tls_port}/hello.txt; }}
        location = /to-plain {{ return 302 http://127.0.0.1:{port}/hello.txt; }}",
            cert = cert.display(),
            key = key.display(),
        );
        if let Some(server) = nginx_on(dir, port, &extra) {
            return (server, tls_port);
        }
    }
    panic!("nginx did not start on any of 20 ports");
}

/// Whether the server on `port` is nginx.
fn is_nginx(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut answer = String::new();
    s.write_all(b"HEAD / HTTP/1.0\r\n\r\n").is_ok()
        && s.read_to_string(&mut answer).is_ok()
        && answer.contains("Server: nginx")
}

fn nginx_on(dir: &Path, port: u16, extra: &str) -> Option<Server> {
    let root = dir.join("www");
    std::fs::create_dir_all(root.join("uploads")).unwrap();
    std::fs::create_dir_all(root.join("private")).unwrap();
    std::fs::create_dir_all(root.join("chunked")).unwrap();
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("htpasswd"), "fulano:{PLAIN}silva\n").unwrap();
    // nginx started as root runs its workers as another user, who must be able to write
    // the uploads.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join("uploads"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let conf = format!(
        r#"
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    default_type application/octet-stream;
    types {{ text/plain txt; text/html html; }}
    server {{
        listen 127.0.0.1:{port};
        {extra}
        root {root};
        client_max_body_size 64m;
        location = /moved {{ return 301 /hello.txt; }}
        location = /found {{ return 302 http://127.0.0.1:{port}/hello.txt; }}
        location = /see-other {{ return 303 /hello.txt; }}
        location = /temporary {{ return 307 /hello.txt; }}
        location = /loop {{ return 302 /loop; }}
        location = /empty {{ return 204; }}
        location /private/ {{
            auth_basic "luasocket-wasi tests";
            auth_basic_user_file {dir}/htpasswd;
        }}
        location /chunked/ {{ ssi on; ssi_types text/plain; }}
        location /uploads/ {{
            dav_methods PUT DELETE;
            create_full_put_path on;
        }}
    }}
}}
"#,
        dir = dir.display(),
        root = root.display(),
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut child = Command::new("/usr/sbin/nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx (scripts/bootstrap.sh test installs it)");
    // Ours, not another test's nginx that took the port first: its pid file names our child.
    let ours = |child: &Child| {
        std::fs::read_to_string(dir.join("nginx.pid"))
            .is_ok_and(|pid| pid.trim() == child.id().to_string())
    };
    let start = Instant::now();
    while !(is_nginx(port) && ours(&child)) {
        if child.try_wait().ok().flatten().is_some() || start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Server {
        child,
        port,
        dir: root,
    })
}

/// aiosmtpd storing messages under `dir/mail`, AUTH for fulano/silva.
pub fn smtp(dir: &Path) -> Server {
    let mail = dir.join("mail");
    let mut command = Command::new("python3");
    command
        .arg(servers_dir().join("smtp_server.py"))
        .arg("0")
        .arg(&mail)
        .args(["fulano", "silva"]);
    let (child, port) = announced(command, "the SMTP server");
    Server {
        child,
        port,
        dir: mail,
    }
}

/// pyftpdlib with user fulano/silva (home `dir/home`, writable) and an anonymous
/// read-only area `dir/pub`.
pub fn ftp(dir: &Path) -> Server {
    let home = dir.join("home");
    let anonymous = dir.join("pub");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&anonymous).unwrap();
    let mut command = Command::new("python3");
    command
        .arg(servers_dir().join("ftp_server.py"))
        .arg("0")
        .arg(&home)
        .arg(&anonymous)
        .args(["fulano", "silva"]);
    let (child, port) = announced(command, "the FTP server");
    Server {
        child,
        port,
        dir: dir.to_path_buf(),
    }
}

/// Python's http.server over its ssl module, echoing each POST body's length and
/// SHA-256 (`tests/servers/https_echo.py`).
pub fn https_echo(cert: &Path, key: &Path) -> Server {
    let mut command = Command::new("python3");
    command
        .arg(servers_dir().join("https_echo.py"))
        .arg(cert)
        .arg(key);
    let (child, port) = announced(command, "the HTTPS echo server");
    Server {
        child,
        port,
        dir: PathBuf::new(),
    }
}

/// `openssl s_server` with `args`, on a port it picks (read from its `ACCEPT` line).
pub fn openssl_server(args: &[&str]) -> Server {
    let mut child = Command::new("openssl")
        .arg("s_server")
        .args(["-accept", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start openssl s_server (scripts/bootstrap.sh test installs openssl)");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let port = loop {
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("s_server exited before accepting");
        if let Some(address) = line.strip_prefix("ACCEPT ") {
            break address
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a port in the ACCEPT line");
        }
    };
    // Keep draining what it prints, so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Server {
        child,
        port,
        dir: PathBuf::new(),
    }
}

/// Starts redis-server with no persistence, its working directory in `dir`, and waits
/// until it accepts connections. The port is picked free and then handed to redis-server,
/// so another test may take it in between: the server that answers must report our
/// child's process id, or the start is retried on another port.
pub fn redis(dir: &Path) -> Server {
    for _ in 0..20 {
        if let Some(server) = redis_on(dir, free_port()) {
            return server;
        }
    }
    panic!("redis-server did not start on any of 20 ports");
}

fn redis_on(dir: &Path, port: u16) -> Option<Server> {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server (scripts/bootstrap.sh test installs it)");
    // Wrapped at once, so a failed start below still stops the process.
    let mut server = Server::new(child, port, dir.to_path_buf());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if server.exited() {
            return None;
        }
        if redis_pid(port) == Some(server.pid()) {
            return Some(server);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The process id of the redis-server answering on `port`, if one does.
fn redis_pid(port: u16) -> Option<u32> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if let Some(pid) = String::from_utf8_lossy(&reply)
            .lines()
            .find_map(|l| l.strip_prefix("process_id:"))
        {
            return pid.trim().parse().ok();
        }
    }
    None
}
