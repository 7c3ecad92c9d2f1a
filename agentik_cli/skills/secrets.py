"""What counts as a secret, in one place: the files that hold credentials (the `files` skill refuses
them wherever they are) and the environment variables that do (a command, a user's command skill
and an MCP server never get them). `agentik skills show files` shows both lists.

Both are broad on purpose (issue 20): a file or a variable refused by mistake costs the agent one
answer, one let through costs the credential. Matching ignores case."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from pathlib import PurePath

# Glob patterns, matched without regard to case:
# - a bare name matches the file's (or folder's) own name: `.env*`, `*.pem`;
# - with a `/` inside, the end of the path: `.kube/config` is config in a folder named .kube;
# - ending in `/`, a folder of which every file is secret: `.ssh/`.
SECRET_FILES: tuple[str, ...] = (
    # environment files in any form (.env, .env.local, .envrc, .env_local, prod.env, .dev.vars)
    ".env*",
    "*.env",
    ".flaskenv",
    ".dev.vars*",
    # private keys, keystores and key rings
    "*.pem",
    "*.key",
    "id_*",
    "*.ppk",
    "*.p8",
    "*.p12",
    "*.pfx",
    "*.pkcs12",
    "*.jks",
    "*.jceks",
    "*.keystore",
    "*.bks",
    "*.kdbx",
    "*.gpg",
    "*.pgp",
    "*.ovpn",
    # logins for hosts, registries, package indexes and databases
    ".netrc",
    "_netrc",
    ".pgpass",
    ".my.cnf",
    ".mylogin.cnf",
    ".git-credentials",
    ".gitcookies",
    ".npmrc",
    ".yarnrc",
    ".yarnrc.yml",
    ".pypirc",
    "pip.conf",
    "pip.ini",
    ".dockercfg",
    ".docker/config.json",
    ".htpasswd",
    ".boto",
    ".s3cfg",
    ".passwd-s3fs",
    "rclone.conf",
    ".m2/settings*.xml",
    ".gradle/gradle.properties",
    "wp-config.php",
    "local.settings.json",
    "shadow",
    "gshadow",
    # tokens and credential files of tools and clouds
    "credentials",
    "credentials.*",
    "*.credentials",
    ".credentials*",
    "*credentials.json",
    "service?account*.json",
    "*adminsdk*.json",
    "client_secret*.json",
    "token.json",
    "tokens.json",
    "*.token",
    "auth.json",
    "keys.json",
    ".vault-token",
    "*vault*pass*",
    "kubeconfig",
    "kubeconfig.*",
    "*.kubeconfig",
    ".kube/config",
    ".config/gh/hosts.yml",
    ".config/hub",
    ".terraformrc",
    "terraform.rc",
    "credentials.tfrc.json",
    "*.tfstate",
    "*.tfstate.*",
    "*.tfvars",
    "*.tfvars.json",
    "sops/age/keys.txt",
    # secrets by their own name (secrets.yaml, secrets.toml, app.secret)
    "secret",
    "secrets",
    # (data files only: source code named secrets.py or secrets.ts is code, not a secret)
    "secret.yaml",
    "secret.yml",
    "secret.json",
    "secret.toml",
    "secret.ini",
    "secret.env",
    "secret.txt",
    "secret.conf",
    "secret.cfg",
    "secret.properties",
    "secret.xml",
    "secrets.yaml",
    "secrets.yml",
    "secrets.json",
    "secrets.toml",
    "secrets.ini",
    "secrets.env",
    "secrets.txt",
    "secrets.conf",
    "secrets.cfg",
    "secrets.properties",
    "secrets.xml",
    "*.secret",
    "*.secrets",
    # git's own settings (remote URLs with tokens, credential helpers)
    ".git/config",
    ".git/config.*",
    ".git/modules/*/config",
    ".git/worktrees/*/config.worktree",
    # shells' and REPLs' histories: tokens typed on a command line
    "*_history",
    ".histfile",
    ".zhistory",
    # browsers' cookies and saved logins
    "cookies",
    "cookies.sqlite",
    "login data",
    "logins.json",
    "key3.db",
    "key4.db",
    # folders of which every file is secret
    ".envs/",
    ".ssh/",
    ".gnupg/",
    ".aws/",
    ".azure/",
    ".config/gcloud/",
    ".config/op/",
    ".password-store/",
    ".zsh_sessions/",
    ".local/share/keyrings/",
)

# Glob patterns, matched without regard to case against a variable's whole name and against each of
# its words (the parts between `_`): `*KEY*` anywhere, `PAT` only as a word (GITLAB_PAT, not PATH).
SECRET_VARIABLES: tuple[str, ...] = (
    "*KEY*",
    "*TOKEN*",
    "*SECRET*",
    "*PASS*",
    "*PWD*",
    "PW",
    "*CRED*",
    "*AUTH*",
    "*JWT*",
    "PAT",
    "SK",
    "OTP",
    "*SALT*",
    "*SESSION*",
    "*COOKIE*",
    "*WEBHOOK*",
    "*DSN*",
    "*PRIVATE*",
    "*CERT*",
    "*SIGNING*",
    "*CONNECTION_STRING*",
    "*CONN_STR*",
    "*CONNSTR*",
    "DATABASE_URL",
    # every variable of the providers and of agentik, and of the clouds' own tools
    "ANTHROPIC_*",
    "OPENAI_*",
    "AGENTIK_*",
    "AWS_*",
    "AZURE_*",
    "GOOGLE_*",
    "GCP_*",
    "GH_*",
    "GITHUB_*",
    "HF_*",
)
# Kept although a pattern above matches: PWD and OLDPWD are folders, not passwords; the CA bundles
# are public certificates a command needs to reach HTTPS behind a company's proxy.
KEPT_VARIABLES: tuple[str, ...] = (
    "PWD",
    "OLDPWD",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NIX_SSL_CERT_FILE",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "DENO_CERT",
    "HTTPLIB2_CA_CERTS",
    "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE",
)

SECRET_FOLDERS: tuple[str, ...] = tuple(p.rstrip("/") for p in SECRET_FILES if p.endswith("/"))
_SUFFIXES = tuple(tuple(p.split("/")) for p in SECRET_FILES if "/" in p.rstrip("/") and not p.endswith("/"))
_FOLDERS = tuple(tuple(p.split("/")) for p in SECRET_FOLDERS)


def _any(patterns: Iterable[str]) -> re.Pattern[str]:
    """One regex for many globs: grep asks about every file of a walk, 20,000 of them at most."""
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


_NAME = _any(p for p in SECRET_FILES if "/" not in p)
_SUFFIX_LAST = _any(p[-1] for p in _SUFFIXES)  # the name a suffix pattern ends with, tried first
_FOLDER_FIRST = _any(p[0] for p in _FOLDERS)
_WORD = re.compile(r"[^A-Z0-9]+")


def _match(parts: Sequence[str], patterns: tuple[str, ...]) -> bool:
    return all(fnmatch.fnmatchcase(part, pattern) for part, pattern in zip(parts, patterns, strict=True))


def is_secret_file(path: PurePath) -> bool:
    """Whether a file (or folder) may hold secrets, by its name, the end of its path, or a folder it is in."""
    parts = [p.lower() for p in path.parts]
    if not parts:
        return False
    if _NAME.match(parts[-1]):
        return True
    if _SUFFIX_LAST.match(parts[-1]):
        for pattern in _SUFFIXES:
            if len(parts) >= len(pattern) and _match(parts[-len(pattern) :], pattern):
                return True
    return is_secret_folder(path)


def is_secret_folder(path: PurePath) -> bool:
    """Whether a path is in (or is) a folder of which every file is secret: .ssh, .aws..."""
    parts = [p.lower() for p in path.parts]
    if not any(_FOLDER_FIRST.match(part) for part in parts):
        return False
    for pattern in _FOLDERS:  # the folder anywhere on the path, the path itself included
        size = len(pattern)
        if any(_match(parts[i : i + size], pattern) for i in range(len(parts) - size + 1)):
            return True
    return False


def is_secret_variable(name: str) -> bool:
    """Whether an environment variable may hold a secret, by its name."""
    upper = name.upper()
    if upper in KEPT_VARIABLES:
        return False
    words = {upper, *_WORD.split(upper)}
    return any(fnmatch.fnmatchcase(word, pattern) for pattern in SECRET_VARIABLES for word in words)
