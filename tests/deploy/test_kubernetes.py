"""What kubernetes-validate and checkov (run by `make test`) cannot know: that the
manifests run real `billing` commands, probe paths the processes serve, configure only
settings that exist, and that their selectors and ports meet."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from billing.core.config import Settings
from billing.http.app import DRAIN_SECONDS
from billing.runtime.cli import app
from billing.webhooks.worker import STOP_TIMEOUT
from tests.deploy.conftest import kubernetes_objects, pod_spec

OBJECTS = kubernetes_objects()
WORKLOADS = [o for o in OBJECTS if o["kind"] in ("Deployment", "Job", "CronJob")]
PROBED_PATHS = {"/healthz", "/readyz"}


def named(kind: str, name: str) -> dict[str, Any]:
    return next(o for o in OBJECTS if o["kind"] == kind and o["metadata"]["name"] == name)


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = pod_spec(workload)["containers"]
    return found


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w["metadata"]["name"])
def test_each_workload_runs_a_real_billing_command(workload: dict[str, Any]) -> None:
    for container in containers(workload):
        result = CliRunner().invoke(app, [*container["args"], "--help"])
        assert result.exit_code == 0, f"{container['args']}: {result.output}"


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w["metadata"]["name"])
def test_each_workload_is_configured_with_settings_that_exist(workload: dict[str, Any]) -> None:
    config = named("ConfigMap", "billing-config")["data"]
    assert set(config) <= set(Settings.model_fields)
    for container in containers(workload):
        sources = [source["configMapRef"]["name"] for source in container["envFrom"]]
        assert sources == ["billing-config"]  # secrets come as files, not variables
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        assert config["BILLING_SECRETS_DIR"] in mounts


@pytest.mark.parametrize("name", ["billing-server", "billing-worker"])
def test_probes_ask_paths_the_process_serves_on_a_port_it_declares(name: str) -> None:
    (container,) = containers(named("Deployment", name))
    ports = {port["name"] for port in container["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] in ports
        assert container[probe]["httpGet"]["path"] in PROBED_PATHS
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    if name == "billing-worker":
        probe_port = container["args"][container["args"].index("--probe-port") + 1]
        assert int(probe_port) == container["ports"][0]["containerPort"]


def test_pods_get_time_to_drain_before_they_are_killed() -> None:
    for name, needed in (("billing-server", DRAIN_SECONDS), ("billing-worker", STOP_TIMEOUT)):
        grace = pod_spec(named("Deployment", name))["terminationGracePeriodSeconds"]
        assert grace > needed


def test_selectors_meet_the_pods_they_mean() -> None:
    server = named("Deployment", "billing-server")
    server_pods = server["spec"]["template"]["metadata"]["labels"]
    service = named("Service", "billing")
    assert service["spec"]["selector"].items() <= server_pods.items()
    for budget in (o for o in OBJECTS if o["kind"] == "PodDisruptionBudget"):
        target = named("Deployment", budget["metadata"]["name"])
        pods = target["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= pods.items()
        assert budget["spec"]["minAvailable"] < target["spec"]["replicas"]
    monitor = named("ServiceMonitor", "billing")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    service_ports = {port["name"] for port in service["spec"]["ports"]}
    assert {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]} <= service_ports


def test_every_object_lives_in_the_billing_namespace() -> None:
    for found in OBJECTS:
        if found["kind"] != "Namespace":
            assert found["metadata"]["namespace"] == "billing", found["metadata"]["name"]


def test_what_prometheus_scrapes_the_network_policies_let_in() -> None:
    """A scrape refused by a policy would leave the workers' counters, and the alerts on
    them, silently empty."""
    monitored = {
        "server": named("ServiceMonitor", "billing")["spec"]["endpoints"],
        "worker": named("PodMonitor", "billing-worker")["spec"]["podMetricsEndpoints"],
    }
    for component, endpoints in monitored.items():
        (container,) = containers(named("Deployment", f"billing-{component}"))
        # The Service's port and the containers' share the name ("http").
        numbers = {port["name"]: port["containerPort"] for port in container["ports"]}
        scraped = {numbers[endpoint["port"]] for endpoint in endpoints}
        assert scraped <= allowed_ports(component), component


def allowed_ports(component: str) -> set[int]:
    ports = set()
    for policy in (o for o in OBJECTS if o["kind"] == "NetworkPolicy"):
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if selector.get("app.kubernetes.io/component") == component:
            for rule in policy["spec"].get("ingress", []):
                ports |= {port["port"] for port in rule["ports"]}
    return ports
