//! The differential test (issue 14): each script in tests/differential/ runs under native
//! Lua 5.4 with Debian's LuaSocket and LuaSec, and inside the component, against the
//! same peers with the same arguments. Both print labelled lines through the scripts'
//! shared prelude (`support.lua`); the outputs must agree line by line, except for the
//! lines the differences table (`differences.md`) lists with both texts and a reason.
//! A listed line that no longer differs fails the test too, so the table stays true;
//! docs/differential.md carries the table, rendered from it.
//!
//! `DIFFERENTIAL_SCRIPTS=tcp,udp` runs only those scripts (the table is then checked
//! for them only); `DIFFERENTIAL_BLESS=1` rewrites docs/differential.md's block from the table. Both
//! outputs of every script are kept in target/tmp/differential/ for reading.

mod common;
#[path = "differential/peers.rs"]
mod peers;
#[path = "differential/table.rs"]
mod table;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::pki::Pki;
use common::servers::{self, Server};
use common::{cli, scratch};
use table::{Entry, Table};

/// A runtime may take this long for one script before the test gives up on it.
const SCRIPT_LIMIT: Duration = Duration::from_secs(60);

/// Scripts running at once: each mostly waits on timeouts, but the machine running
/// the suite may have two cores in all.
const PARALLEL: usize = 3;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository")
}

fn scripts_dir() -> PathBuf {
    repo().join("tests/differential")
}

/// The prelude's directory, on both runtimes' module path. Not the scripts' own
/// directory: a script named after a module (ltn12.lua) would shadow it.
fn lib_dir() -> PathBuf {
    scripts_dir().join("lib")
}

fn table_path() -> PathBuf {
    scripts_dir().join("differences.md")
}

fn load_table() -> Table {
    let text = std::fs::read_to_string(table_path()).expect("tests/differential/differences.md");
    table::parse(&text).unwrap_or_else(|e| panic!("differences.md: {e}"))
}

/// The scripts to run: every `*.lua` in tests/differential/, or those
/// DIFFERENTIAL_SCRIPTS names.
fn scripts() -> Vec<String> {
    let mut all: Vec<String> = std::fs::read_dir(scripts_dir())
        .expect("tests/differential/")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".lua").map(str::to_owned)
        })
        .collect();
    all.sort();
    match std::env::var("DIFFERENTIAL_SCRIPTS") {
        Ok(only) => {
            let only: Vec<&str> = only.split(',').map(str::trim).collect();
            all.retain(|s| only.contains(&s.as_str()));
            all
        }
        Err(_) => all,
    }
}

/// Everything the scripts talk to, started once for the whole run and stopped when
/// dropped: the native peers, nginx (HTTP and HTTPS), aiosmtpd, pyftpdlib, and the
/// test PKI.
struct World {
    peers: peers::Peers,
    nginx: Server,
    https: u16,
    smtp: Server,
    ftp: Server,
    pki: Pki,
    dir: PathBuf,
    // Last, so the servers are stopped before their directories go.
    _cleanup: [Removed; 2],
}

/// A scratch directory, removed when dropped.
struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl World {
    fn start() -> World {
        let dir = scratch("differential");
        let pki = Pki::new("differential-pki");
        let (nginx, https) = servers::nginx_tls(
            &dir.join("nginx"),
            &pki.file("server.pem"),
            &pki.file("server.key"),
        );
        fill_www(&nginx.dir);
        let ftp = servers::ftp(&dir.join("ftp"));
        fill_ftp(&ftp.dir);
        let smtp = servers::smtp(&dir.join("smtp"));
        World {
            peers: peers::Peers::start(),
            nginx,
            https,
            smtp,
            ftp,
            _cleanup: [Removed(dir.clone()), Removed(pki.dir().to_path_buf())],
            pki,
            dir,
        }
    }

    /// The arguments every script gets, the same in both runtimes.
    fn args(&self) -> Vec<String> {
        let mut args = self.peers.args();
        args.extend([
            format!("http={}", self.nginx.port),
            format!("https={}", self.https),
            format!("www={}", self.nginx.dir.display()),
            format!("smtp={}", self.smtp.port),
            format!("mail={}", self.smtp.dir.display()),
            format!("ftp={}", self.ftp.port),
            format!("ftp_home={}", self.ftp.dir.join("home").display()),
            format!("pki={}", self.pki.dir().display()),
            format!("scratch={}", self.dir.display()),
        ]);
        args
    }
}

/// nginx's files: a text file, one behind Basic auth, one sent chunked (SSI).
fn fill_www(root: &Path) {
    std::fs::write(root.join("hello.txt"), "Hello from nginx\n").unwrap();
    std::fs::write(root.join("private/secret.txt"), "the secret\n").unwrap();
    std::fs::write(
        root.join("chunked/page.txt"),
        "before <!--# echo var=\"request_method\" --> after\n",
    )
    .unwrap();
}

fn fill_ftp(root: &Path) {
    std::fs::write(root.join("pub/readme.txt"), "anonymous readme\r\nline 2\n").unwrap();
    std::fs::write(root.join("home/file.txt"), "fulano's file\n").unwrap();
}

/// What one runtime printed for one script.
struct Run {
    stdout: String,
    stderr: String,
    failure: Option<String>,
}

impl Run {
    /// Runs `cmd` to its end or for `SCRIPT_LIMIT`, whichever comes first. The pipes
    /// are drained while it runs (a script may print more than a pipe holds), and a
    /// script that hangs is a failure like any other, with what it printed so far.
    fn of(what: &str, mut cmd: Command) -> Run {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {what}: {e}"));
        let stdout = drain(child.stdout.take().unwrap());
        let stderr = drain(child.stderr.take().unwrap());
        let status = wait_or_kill(&mut child);
        let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
        let failure = match status {
            Some(s) if s.success() => None,
            Some(s) => Some(format!("{what} exited with {s}\nstderr: {stderr}")),
            None => Some(format!(
                "{what} still running after {SCRIPT_LIMIT:?}, killed\nstderr: {stderr}"
            )),
        };
        Run {
            stdout,
            stderr,
            failure,
        }
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The exit status, or None if the child had to be killed at the deadline.
fn wait_or_kill(child: &mut Child) -> Option<ExitStatus> {
    let deadline = Instant::now() + SCRIPT_LIMIT;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait for a script") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn script_path(script: &str) -> PathBuf {
    scripts_dir().join(format!("{script}.lua"))
}

fn native(world: &World, script: &str) -> Run {
    let mut cmd = Command::new("lua5.4");
    cmd.arg(script_path(script))
        .args(world.args())
        .env("LUA_PATH", format!("{}/?.lua;;", lib_dir().display()))
        .current_dir(&world.dir);
    Run::of(
        "native lua5.4 (scripts/bootstrap.sh test installs it with lua-socket and lua-sec)",
        cmd,
    )
}

/// The component, with loopback networking and the directories the scripts read at
/// the paths native Lua reads them at; the prelude is found at /diff.
fn component(world: &World, script: &str) -> Run {
    let mut cmd = cli();
    cmd.arg("run")
        .arg("--allow-net=127.0.0.1,[::1],localhost")
        .arg("--dir")
        .arg(format!("{}::/diff", lib_dir().display()))
        .arg("--dir")
        .arg(&world.dir)
        .arg("--dir")
        .arg(world.pki.dir())
        .arg(script_path(script))
        .args(world.args())
        .current_dir(&world.dir);
    Run::of("the component", cmd)
}

/// Both runs of every script, `PARALLEL` scripts at a time, in the scripts' order.
fn run_all(world: &World, scripts: &[String]) -> Vec<(Run, Run)> {
    let next = Mutex::new(0..scripts.len());
    let results: Mutex<HashMap<usize, (Run, Run)>> = Mutex::new(HashMap::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                while let Some(i) = next.lock().unwrap().next() {
                    let pair = (native(world, &scripts[i]), component(world, &scripts[i]));
                    save(&scripts[i], &pair);
                    results.lock().unwrap().insert(i, pair);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    (0..scripts.len())
        .map(|i| results.remove(&i).unwrap())
        .collect()
}

fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("differential");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn save(script: &str, (native, ours): &(Run, Run)) {
    let dir = output_dir();
    for (name, run) in [("native", native), ("component", ours)] {
        std::fs::write(dir.join(format!("{script}.{name}")), &run.stdout).unwrap();
        std::fs::write(dir.join(format!("{script}.{name}.stderr")), &run.stderr).unwrap();
    }
}

/// A script's output as (label, values) lines. Every line must be one the prelude
/// wrote ("label: values"), and no label may appear twice, so that lines pair up by
/// label whatever else happens.
fn labelled(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut seen = HashSet::new();
    let mut lines = Vec::new();
    for line in text.lines() {
        let Some((label, values)) = line.split_once(": ") else {
            return Err(format!("a line without a label: {line:?}"));
        };
        if !seen.insert(label.to_owned()) {
            return Err(format!("the label {label:?} is printed twice"));
        }
        lines.push((label.to_owned(), values.to_owned()));
    }
    Ok(lines)
}

/// The text of a line one runtime did not print, as the table writes it.
const ABSENT: &str = "(absent)";

/// What comparing one script's two outputs found.
#[derive(Default)]
struct Comparison {
    compared: usize,
    listed: usize,
    problems: Vec<String>,
}

/// Pairs the lines by label (in native's order, then the component's extra lines) and
/// checks each pair is equal or listed in `table` with exactly these two texts. Table
/// entries for `script` that matched nothing are stale.
fn compare(
    script: &str,
    native: &[(String, String)],
    ours: &[(String, String)],
    table: &[Entry],
) -> Comparison {
    let ours_by_label: HashMap<&str, &str> =
        ours.iter().map(|(l, v)| (l.as_str(), v.as_str())).collect();
    let native_by_label: HashMap<&str, &str> = native
        .iter()
        .map(|(l, v)| (l.as_str(), v.as_str()))
        .collect();
    let labels = native
        .iter()
        .chain(
            ours.iter()
                .filter(|(l, _)| !native_by_label.contains_key(l.as_str())),
        )
        .map(|(l, _)| l.as_str());
    let entries: HashMap<&str, &Entry> = table
        .iter()
        .filter(|e| e.script == script)
        .map(|e| (e.label.as_str(), e))
        .collect();
    let mut result = Comparison::default();
    let mut used = HashSet::new();
    for label in labels {
        result.compared += 1;
        let n = native_by_label.get(label).copied().unwrap_or(ABSENT);
        let c = ours_by_label.get(label).copied().unwrap_or(ABSENT);
        if n == c {
            continue;
        }
        match entries.get(label) {
            Some(e) if e.native == n && e.component == c => result.listed += 1,
            Some(e) => result.problems.push(format!(
                "{script} / {label}: the table says\n  native:    {}\n  component: {}\nbut now\n  native:    {n}\n  component: {c}",
                e.native, e.component
            )),
            None => result.problems.push(unlisted(script, label, n, c)),
        }
        used.insert(label);
    }
    for e in entries
        .values()
        .filter(|e| !used.contains(e.label.as_str()))
    {
        result.problems.push(format!(
            "{script} / {}: listed in the table but no longer differs (stale entry)",
            e.label
        ));
    }
    result
}

/// An unlisted difference, with the table row that would list it (kind and reason to
/// be filled in).
fn unlisted(script: &str, label: &str, native: &str, ours: &str) -> String {
    let row = table::row(&Entry {
        script: script.into(),
        label: label.into(),
        native: native.into(),
        component: ours.into(),
        reason: "?".into(),
    });
    format!(
        "{script} / {label}: not in the table\n  native:    {native}\n  component: {ours}\n  {row}"
    )
}

#[test]
fn scripts_print_what_native_luasocket_prints() {
    let table = load_table();
    let scripts = scripts();
    assert!(!scripts.is_empty(), "no scripts selected");
    let start = Instant::now();
    let world = World::start();
    let runs = run_all(&world, &scripts);
    let mut problems = unknown_scripts(&table.entries);
    let (mut compared, mut listed) = (0, 0);
    for (script, (native, ours)) in scripts.iter().zip(&runs) {
        let result = compare_runs(script, native, ours, &table.entries);
        compared += result.compared;
        listed += result.listed;
        problems.extend(result.problems);
    }
    println!(
        "{} scripts, {compared} lines compared, {listed} of them listed differences, in {:.1} s",
        scripts.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        problems.is_empty(),
        "{} problems (outputs in {}):\n\n{}",
        problems.len(),
        output_dir().display(),
        problems.join("\n\n")
    );
}

fn compare_runs(script: &str, native: &Run, ours: &Run, table: &[Entry]) -> Comparison {
    let failures: Vec<String> = [&native.failure, &ours.failure]
        .into_iter()
        .flatten()
        .map(|f| format!("{script}: {f}"))
        .collect();
    if !failures.is_empty() {
        return Comparison {
            problems: failures,
            ..Comparison::default()
        };
    }
    match (labelled(&native.stdout), labelled(&ours.stdout)) {
        (Ok(n), Ok(c)) => compare(script, &n, &c, table),
        (n, c) => Comparison {
            problems: [n.err(), c.err()]
                .into_iter()
                .flatten()
                .map(|e| format!("{script}: {e}"))
                .collect(),
            ..Comparison::default()
        },
    }
}

/// Table entries naming a script that does not exist (all scripts, not only the
/// selected ones: a renamed script must not leave entries behind).
fn unknown_scripts(table: &[Entry]) -> Vec<String> {
    table
        .iter()
        .filter(|e| !script_path(&e.script).exists())
        .map(|e| format!("{} / {}: no such script", e.script, e.label))
        .collect()
}

/// docs/differential.md shows the table; it must be the table as it is now.
#[test]
fn docs_show_the_differences_table() {
    let path = repo().join("docs/differential.md");
    let page = std::fs::read_to_string(&path).unwrap();
    let block =
        table::block(&page).expect("docs/differential.md has the differences block markers");
    let rendered = table::render(&load_table());
    if page[block.clone()] == rendered {
        return;
    }
    if std::env::var_os("DIFFERENTIAL_BLESS").is_some() {
        let mut updated = page.clone();
        updated.replace_range(block, &rendered);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "docs/differential.md's differences block is not the table rendered; run with \
         DIFFERENTIAL_BLESS=1 to rewrite it"
    );
}

#[cfg(test)]
mod comparing {
    use super::*;

    fn lines(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(l, v)| (l.to_string(), v.to_string()))
            .collect()
    }

    fn entry(label: &str, native: &str, component: &str) -> Entry {
        Entry {
            script: "s".into(),
            label: label.into(),
            native: native.into(),
            component: component.into(),
            reason: "r".into(),
        }
    }

    #[test]
    fn equal_outputs_pass() {
        let out = lines(&[("a", "1"), ("b", "\"x\"")]);
        let result = compare("s", &out, &out, &[]);
        assert_eq!((result.compared, result.problems.len()), (2, 0));
    }

    #[test]
    fn an_altered_native_line_fails() {
        let ours = lines(&[("a", "1"), ("b", "2")]);
        let native = lines(&[("a", "1"), ("b", "3")]);
        let result = compare("s", &native, &ours, &[]);
        assert_eq!(result.problems.len(), 1, "{:?}", result.problems);
        assert!(result.problems[0].starts_with("s / b: not in the table"));
    }

    #[test]
    fn a_listed_difference_passes_and_only_with_its_exact_texts() {
        let ours = lines(&[("a", "1"), ("b", "2")]);
        let native = lines(&[("a", "1"), ("b", "3")]);
        let listed = compare("s", &native, &ours, &[entry("b", "3", "2")]);
        assert_eq!((listed.listed, listed.problems.len()), (1, 0));
        let wrong = compare("s", &native, &ours, &[entry("b", "4", "2")]);
        assert_eq!(wrong.problems.len(), 1);
        let other_script = Entry {
            script: "t".into(),
            ..entry("b", "3", "2")
        };
        assert_eq!(
            compare("s", &native, &ours, &[other_script]).problems.len(),
            1
        );
    }

    #[test]
    fn a_removed_entry_fails_and_a_stale_one_too() {
        let ours = lines(&[("a", "1"), ("b", "2")]);
        let native = lines(&[("a", "1"), ("b", "3")]);
        assert_eq!(compare("s", &native, &ours, &[]).problems.len(), 1);
        let stale = compare("s", &ours, &ours, &[entry("b", "3", "2")]);
        assert_eq!(stale.problems.len(), 1);
        assert!(stale.problems[0].contains("stale"), "{:?}", stale.problems);
    }

    #[test]
    fn missing_lines_are_compared_as_absent() {
        let native = lines(&[("a", "1"), ("done", "true")]);
        let ours = lines(&[("a", "1"), ("extra", "2")]);
        let result = compare(
            "s",
            &native,
            &ours,
            &[entry("done", "true", ABSENT), entry("extra", ABSENT, "2")],
        );
        assert_eq!(
            (result.compared, result.listed, result.problems.len()),
            (3, 2, 0)
        );
    }

    #[test]
    fn unlabelled_and_repeated_lines_are_refused() {
        assert!(labelled("a: 1\nb: 2\n").is_ok());
        assert!(labelled("a: 1\nstray\n").is_err());
        assert!(labelled("a: 1\na: 2\n").is_err());
    }
}
