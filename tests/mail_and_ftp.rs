//! socket.smtp against aiosmtpd and socket.ftp against pyftpdlib (both from PyPI),
//! started by the tests on loopback.

mod common;

use std::process::Command;

use common::servers;
use common::*;

fn random_bytes(size: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 7) as u8
        })
        .collect()
}

/// The attachment of a stored message, decoded by Python's own email parser.
fn attachment_of(eml: &std::path::Path) -> (Vec<u8>, String) {
    let script = r#"
import email, sys
msg = email.message_from_bytes(open(sys.argv[1], "rb").read())
parts = list(msg.walk())
attachment = [p for p in parts if p.get_filename()][0]
text = [p for p in parts if p.get_content_type() == "text/plain"][0]
sys.stdout.buffer.write(text.get_payload(decode=True) + b"\0" + attachment.get_payload(decode=True))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(eml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let split = out.stdout.iter().position(|&b| b == 0).unwrap();
    (
        out.stdout[split + 1..].to_vec(),
        String::from_utf8_lossy(&out.stdout[..split]).into_owned(),
    )
}

#[test]
fn a_multipart_mail_with_an_attachment_arrives_byte_exact() {
    let dir = scratch("smtp");
    let server = servers::smtp(&dir);
    let attachment = random_bytes(300_000, 7);
    std::fs::write(dir.join("image.bin"), &attachment).unwrap();
    let spec = format!("{}::/data", dir.display());
    let out = lua(
        &["--allow-net=127.0.0.1", "--dir", &spec, "--timeout", "60"],
        &format!(
            r#"
        local smtp = require("socket.smtp")
        local mime = require("mime")
        local ltn12 = require("ltn12")
        local source = smtp.message{{
            headers = {{ from = "Sicrano <sicrano@example.com>", to = "Fulano <fulano@example.com>", subject = "attachment" }},
            body = {{
                preamble = "A MIME message.",
                [1] = {{ body = mime.eol(0, "First line\n.leading dot\n..two dots\nlast line\n") }},
                [2] = {{
                    headers = {{
                        ["content-type"] = 'application/octet-stream; name="image.bin"',
                        ["content-disposition"] = 'attachment; filename="image.bin"',
                        ["content-transfer-encoding"] = "BASE64",
                    }},
                    body = ltn12.source.chain(ltn12.source.file(io.open("/data/image.bin", "rb")),
                        ltn12.filter.chain(mime.encode("base64"), mime.wrap())),
                }},
                epilogue = "The end.",
            }},
        }}
        print(smtp.send{{
            from = "<sicrano@example.com>",
            rcpt = {{ "<fulano@example.com>", "<beltrano@example.com>" }},
            source = source,
            server = "127.0.0.1", port = {port},
            user = "fulano", password = "silva",
        }})
        -- wrong password
        print(smtp.send{{ from = "<a@example.com>", rcpt = "<b@example.com>", source = smtp.message{{ body = "x" }},
            server = "127.0.0.1", port = {port}, user = "fulano", password = "wrong" }})
    "#,
            port = server.port
        ),
    );
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "1");
    assert!(lines[1].starts_with("nil\t535"), "{text}");
    let eml = server.dir.join("0001.eml");
    let (decoded, body) = attachment_of(&eml);
    assert!(decoded == attachment, "attachment differs after the trip");
    assert_eq!(
        body,
        "First line\r\n.leading dot\r\n..two dots\r\nlast line\r\n"
    );
    let envelope = std::fs::read_to_string(server.dir.join("0001.envelope")).unwrap();
    assert_eq!(
        envelope,
        "sicrano@example.com\nfulano@example.com\nbeltrano@example.com\n"
    );
    assert!(
        !server.dir.join("0002.eml").exists(),
        "the unauthenticated mail was refused"
    );
}

#[test]
fn ftp_put_and_get_ten_megabytes_listings_and_errors() {
    let dir = scratch("ftp");
    let server = servers::ftp(&dir);
    let data = random_bytes(10 << 20, 11);
    std::fs::write(dir.join("upload.bin"), &data).unwrap();
    std::fs::write(dir.join("pub/readme.txt"), "anonymous can read this\n").unwrap();
    let spec = format!("{}::/data", dir.display());
    let out = lua(
        &["--allow-net=127.0.0.1", "--dir", &spec, "--timeout", "120"],
        &format!(
            r#"
        local ftp = require("socket.ftp")
        local ltn12 = require("ltn12")
        local port = {port}
        -- upload, table form, binary
        print(ftp.put{{ host = "127.0.0.1", port = port, user = "fulano", password = "silva",
            argument = "big.bin", type = "i", source = ltn12.source.file(io.open("/data/upload.bin", "rb")) }})
        -- download, table form, to a file
        print(ftp.get{{ host = "127.0.0.1", port = port, user = "fulano", password = "silva",
            path = "/big.bin", type = "i", sink = ltn12.sink.file(io.open("/data/download.bin", "wb")) }})
        -- URL forms
        print(ftp.put(("ftp://fulano:silva@127.0.0.1:%d/note.txt;type=a"):format(port), "a small note\r\n"))
        local function trim(s) return (s:gsub("%s+$", "")) end
        print(trim(ftp.get(("ftp://fulano:silva@127.0.0.1:%d/note.txt;type=a"):format(port))))
        print(trim(ftp.get(("ftp://127.0.0.1:%d/readme.txt"):format(port))))
        -- a listing
        local names = ftp.get{{ host = "127.0.0.1", port = port, user = "fulano", password = "silva",
            command = "nlst", sink = ltn12.sink.table({{}}) }}
        local t = {{}}
        ftp.get{{ host = "127.0.0.1", port = port, user = "fulano", password = "silva", command = "nlst", sink = ltn12.sink.table(t) }}
        local listing = table.concat(t)
        print(names, listing:find("big.bin", 1, true) ~= nil, listing:find("note.txt", 1, true) ~= nil)
        -- commands, and errors
        print(ftp.command{{ host = "127.0.0.1", port = port, user = "fulano", password = "silva",
            command = "dele", argument = "note.txt", check = 250 }})
        print(ftp.get(("ftp://fulano:silva@127.0.0.1:%d/note.txt"):format(port)))
        print(ftp.get(("ftp://fulano:wrong@127.0.0.1:%d/big.bin"):format(port)))
        print(ftp.put(("ftp://127.0.0.1:%d/upload.txt"):format(port), "anonymous may not write"))
    "#,
            port = server.port
        ),
    );
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        &lines[..5],
        // put returns the bytes the data connection sent (a float, from getstats);
        // get with a sink returns 1.
        &[
            "10485760.0",
            "1",
            "14.0",
            "a small note",
            "anonymous can read this"
        ],
        "{text}"
    );
    assert_eq!(lines[5], "1\ttrue\ttrue");
    assert_eq!(lines[6], "1");
    assert!(lines[7].starts_with("nil\t550"), "{text}");
    assert!(lines[8].starts_with("nil\t530"), "{text}");
    assert!(lines[9].starts_with("nil\t550"), "{text}");
    assert!(
        std::fs::read(dir.join("home/big.bin")).unwrap() == data,
        "upload differs"
    );
    assert!(
        std::fs::read(dir.join("download.bin")).unwrap() == data,
        "download differs"
    );
}

/// Servers that accept and then say nothing: the clients give up after their TIMEOUT.
#[test]
fn silent_servers_time_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(2).flatten().collect();
        std::thread::sleep(std::time::Duration::from_secs(3));
        drop(held);
    });
    let out = lua(
        &["--allow-net=127.0.0.1", "--timeout", "30"],
        &format!(
            r#"
        local socket = require("socket")
        local smtp = require("socket.smtp")
        local ftp = require("socket.ftp")
        smtp.TIMEOUT, ftp.TIMEOUT = 0.3, 0.3
        local t0 = socket.gettime()
        print(smtp.send{{ from = "<a@example.com>", rcpt = "<b@example.com>",
            source = smtp.message{{ body = "x" }}, server = "127.0.0.1", port = {port} }})
        print(ftp.get(("ftp://127.0.0.1:%d/file"):format({port})))
        print(socket.gettime() - t0 < 2.5)
    "#
        ),
    );
    assert_eq!(ok(&out), "nil\ttimeout\nnil\ttimeout\ntrue\n");
    holder.join().unwrap();
}
