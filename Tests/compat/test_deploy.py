"""The Helm chart at deploy/helm/logstore, rendered and validated against Kubernetes' schemas offline.

Helm is not installed here, so the chart is rendered by `render` below: it implements the part
of Helm's template language the chart uses — `{{ .Values.a.b }}`, `{{ .Release.Name }}`,
`quote`, `toYaml X | nindent N`, `{{- if X }}` / `{{- else }}` / `{{- end }}` and the `{{-` / `-}}`
whitespace trimming — and fails on anything else, so the chart cannot drift outside what is
checked. The manifests are then validated with kubernetes-validate (strict: unknown fields fail).
"""

import copy
import json
import os
import re

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate")

CHART = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "helm", "logstore")
REANA_VALUES = os.path.join(CHART, "..", "reana-values.yaml")
KUBERNETES_VERSION = "1.30.0"
ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


def lookup(path, scope):
    value = scope
    for part in path.strip(".").split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"no value {path}")
        value = value[part]
    return value


def evaluate(expression, scope):
    commands = [c.strip() for c in expression.split("|")]
    words = commands[0].split()
    if words[0] == "toYaml" and len(words) == 2:
        value = yaml.safe_dump(lookup(words[1], scope), default_flow_style=False, sort_keys=False).rstrip("\n")
    elif len(words) == 1 and words[0].startswith("."):
        value = lookup(words[0], scope)
    else:
        raise ValueError(f"template construct not supported by this renderer: {{{{ {expression} }}}}")
    for command in commands[1:]:
        words = command.split()
        if words == ["quote"]:
            value = json.dumps("" if value is None else str(value))
        elif words[0] == "nindent" and len(words) == 2:
            pad = " " * int(words[1])
            value = "\n" + "\n".join(pad + line if line else line for line in str(value).split("\n"))
        else:
            raise ValueError(f"template function not supported by this renderer: {command}")
    return value


def truthy(value):
    return value not in (None, False, 0, "", [], {})


def to_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def render(template, scope):
    # Tokens: text and actions, with Helm's whitespace trimming applied.
    tokens, position = [], 0
    for match in ACTION.finditer(template):
        text = template[position : match.start()]
        if match.group(1):
            text = text.rstrip(" \t\n")
        tokens.append(("text", text))
        tokens.append(("action", match.group(2), bool(match.group(3))))
        position = match.end()
    tokens.append(("text", template[position:]))
    for i, token in enumerate(tokens):
        if token[0] == "action" and token[2] and i + 1 < len(tokens):
            tokens[i + 1] = ("text", tokens[i + 1][1].lstrip(" \t\n"))
    out, stack = [], []  # stack of (emitting before, this branch emits, some branch taken)
    emitting = True
    for token in tokens:
        if token[0] == "text":
            if emitting:
                out.append(token[1])
            continue
        action = token[1]
        if action.startswith("if "):
            condition = emitting and truthy(evaluate(action[3:], scope))
            stack.append((emitting, condition))
            emitting = condition
        elif action == "else":
            outer, taken = stack[-1]
            emitting = outer and not taken
            stack[-1] = (outer, True)
        elif action == "end":
            emitting = stack.pop()[0]
        elif emitting:
            out.append(to_text(evaluate(action, scope)))
    assert not stack, "unbalanced if/end"
    return "".join(out)


def render_chart(values=None, release="logstore"):
    with open(os.path.join(CHART, "values.yaml")) as f:
        defaults = yaml.safe_load(f)
    merged = merge(copy.deepcopy(defaults), values or {})
    scope = {"Values": merged, "Release": {"Name": release, "Namespace": "reana"}}
    documents = []
    directory = os.path.join(CHART, "templates")
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name)) as f:
            text = render(f.read(), scope)
        documents += [d for d in yaml.safe_load_all(text) if d]
    return documents


def merge(base, override):
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def validate(documents):
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def by_kind(documents):
    return {d["kind"]: d for d in documents}


def env_of(documents):
    container = by_kind(documents)["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}


def test_default_values_render_valid_manifests():
    documents = render_chart()
    validate(documents)
    kinds = by_kind(documents)
    assert set(kinds) == {"StatefulSet", "Service"}  # Secrets are expected to exist already
    pod = kinds["StatefulSet"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    env = env_of(documents)
    assert env["LOGSTORE_USERS"] == "/etc/logstore/users/users.json"
    assert env["LOGSTORE_TLS_CERT"] == "/etc/logstore/tls/tls.crt" and env["LOGSTORE_RETENTION"] == "30d"
    assert kinds["StatefulSet"]["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "50Gi"


def test_every_option_renders_valid_manifests():
    documents = render_chart(
        {
            "maxDisk": "40GB",
            "pathPrefix": "/opensearch",
            "openMetrics": True,
            "users": {"usersJson": '{"users": []}'},
            "tls": {"cert": "-----BEGIN CERTIFICATE-----\n…", "key": "-----BEGIN PRIVATE KEY-----\n…", "requireClientCertificates": True},
            "networkPolicy": {"enabled": True},
            "persistence": {"storageClassName": "fast-ssd"},
        }
    )
    validate(documents)
    kinds = by_kind(documents)
    assert {"StatefulSet", "Service", "Secret", "NetworkPolicy"} <= set(kinds)
    env = env_of(documents)
    assert env["LOGSTORE_PATH_PREFIX"] == "/opensearch" and env["LOGSTORE_MAX_DISK"] == "40GB"
    assert env["LOGSTORE_TLS_CLIENT_CA"] == "/etc/logstore/tls/ca.crt"
    # Probes cannot show a client certificate: with client certificates required they only connect.
    probe = kinds["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert "tcpSocket" in probe and "httpGet" not in probe
    assert len(kinds["NetworkPolicy"]["spec"]["ingress"][0]["from"]) == 2


def test_without_tls_the_chart_serves_plain_http():
    documents = render_chart({"tls": {"enabled": False}})
    validate(documents)
    env = env_of(documents)
    assert "LOGSTORE_TLS_CERT" not in env
    probe = by_kind(documents)["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert "scheme" not in probe["httpGet"]


def test_the_renderer_refuses_what_it_does_not_implement():
    with pytest.raises(ValueError):
        render('{{ include "x" . }}', {"Values": {}})
    with pytest.raises(KeyError):
        render("{{ .Values.missing }}", {"Values": {}})


def test_reana_values_carry_tls_users_and_the_prefix():
    with open(REANA_VALUES) as f:
        values = yaml.safe_load(f)
    environment = values["components"]["reana_workflow_controller"]["environment"]
    assert environment["REANA_OPENSEARCH_USE_SSL"] is True
    assert environment["REANA_OPENSEARCH_CA_CERTS"] and environment["REANA_OPENSEARCH_URL_PREFIX"] == "/opensearch"
    output = values["fluent-bit"]["outputConfig"]
    assert output["tls"] == "On" and output["tlsVerify"] == "On" and output["httpUser"] and output["httpPasswd"]
    outputs = values["fluent-bit"]["config"]["outputs"]
    assert outputs.count("HTTP_User") == 3 and outputs.count("tls.verify ") == 3
