//! Real servers for the protocol tests, started on free loopback ports and stopped when
//! dropped: nginx (Debian) for HTTP, aiosmtpd and pyftpdlib (PyPI) for SMTP and FTP.
//! `scripts/bootstrap.sh test` installs them.

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

fn servers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/servers")
}

/// nginx serving `root` (static files, redirects, Basic auth under /private, chunked
/// answers via SSI under /chunked, PUT uploads into `root/uploads`).
pub fn nginx(dir: &Path) -> Server {
    let port = free_port();
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
    wait_for(port, &mut child, "nginx");
    Server {
        child,
        port,
        dir: root,
    }
}

/// aiosmtpd storing messages under `dir/mail`, AUTH for fulano/silva.
pub fn smtp(dir: &Path) -> Server {
    let port = free_port();
    let mail = dir.join("mail");
    let mut child = Command::new("python3")
        .arg(servers_dir().join("smtp_server.py"))
        .arg(port.to_string())
        .arg(&mail)
        .args(["fulano", "silva"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the SMTP server");
    wait_for(port, &mut child, "aiosmtpd");
    Server {
        child,
        port,
        dir: mail,
    }
}

/// pyftpdlib with user fulano/silva (home `dir/home`, writable) and an anonymous
/// read-only area `dir/pub`.
pub fn ftp(dir: &Path) -> Server {
    let port = free_port();
    let home = dir.join("home");
    let anonymous = dir.join("pub");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&anonymous).unwrap();
    let mut child = Command::new("python3")
        .arg(servers_dir().join("ftp_server.py"))
        .arg(port.to_string())
        .arg(&home)
        .arg(&anonymous)
        .args(["fulano", "silva"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the FTP server");
    wait_for(port, &mut child, "pyftpdlib");
    Server {
        child,
        port,
        dir: dir.to_path_buf(),
    }
}
