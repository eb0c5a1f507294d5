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
];

#[test]
fn every_option_has_help_text() {
    let mut bare = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for cmd in COMMANDS {
        let out = Command::new(env!("CARGO_BIN_EXE_advlab")).args(*cmd).arg("-h").output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{cmd:?} -h failed");
        for line in help.lines().map(str::trim_start).filter(|l| l.starts_with("--") || l.starts_with("-h")) {
            // "--flag <VALUE>  text" or "--flag  text": text after two spaces
            let flag = line.split_whitespace().find(|w| w.starts_with("--")).unwrap_or("").to_string();
            // clap's "[default: ...]" and "[possible values: ...]" are not help text
            let has_text =
                line.split_once("  ").is_some_and(|(_, t)| !t.split(" [").next().unwrap_or("").trim().is_empty());
            seen.insert(flag.clone());
            if !has_text {
                bare.push(format!("advlab {} {flag}", cmd.join(" ")));
            }
        }
    }
    for f in ["--arch", "--model", "--epochs", "--batch", "--seed"] {
        assert!(seen.contains(f), "no command lists {f}");
    }
    assert!(bare.is_empty(), "options without help text:\n{}", bare.join("\n"));
}
