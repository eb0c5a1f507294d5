//! Every option of every command has help text (issue 12 found `--arch`,
//! `--model`, `--epochs`, `--batch`, `--seed` bare on several commands).

use std::process::Command;

const COMMANDS: &[&[&str]] = &[
    &["train"],
    &["eval"],
    &["predict"],
    &["attack", "fgsm"],
    &["attack", "pgd"],
    &["attack", "cw"],
    &["attack", "jsma"],
    &["attack", "stadv"],
    &["merge"],
    &["warp"],
    &["flow-loss"],
    &["sdp"],
    &["certify"],
    &["bench", "gemm"],
    &["bench", "train"],
    &["bench", "conv"],
    &["bench", "attack"],
    &["reproduce", "fig6"],
];

#[test]
fn every_option_has_help_text() {
    let mut bare = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for cmd in COMMANDS {
        let out = Command::new(env!("CARGO_BIN_EXE_advlab")).args(*cmd).arg("-h").output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{cmd:?} -h failed");
        let lines: Vec<&str> = help.lines().collect();
        for (i, raw) in lines.iter().enumerate() {
            let line = raw.trim_start();
            if !(line.starts_with("--") || line.starts_with("-h")) {
                continue;
            }
            // "--flag <VALUE>  text" or "--flag  text": text after two
            // spaces; clap puts it on the next, deeper-indented line instead
            // when some flag's help is long ("next line help")
            let flag = line.split_whitespace().find(|w| w.starts_with("--")).unwrap_or("").to_string();
            // clap's "[default: ...]" and "[possible values: ...]" are not help text
            let is_text = |t: &str| !t.split(" [").next().unwrap_or("").trim().is_empty() && !t.trim().starts_with('[');
            let indent = raw.len() - line.len();
            let same_line = line.split_once("  ").is_some_and(|(_, t)| is_text(t));
            let next_line = lines.get(i + 1).is_some_and(|n| {
                let t = n.trim_start();
                n.len() - t.len() > indent && !t.starts_with('-') && is_text(t)
            });
            seen.insert(flag.clone());
            if !(same_line || next_line) {
                bare.push(format!("advlab {} {flag}", cmd.join(" ")));
            }
        }
    }
    for f in ["--arch", "--model", "--epochs", "--batch", "--seed"] {
        assert!(seen.contains(f), "no command lists {f}");
    }
    assert!(bare.is_empty(), "options without help text:\n{}", bare.join("\n"));
}
