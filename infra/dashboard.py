"""The operators' view: one CloudWatch dashboard per stage, and the saved Logs Insights queries.

Rows follow a request: the alarms, the HTTP API (traffic, errors, latency), the app's
own metrics and request log by route, the function (duration, concurrency, throttles,
cold starts), RDS Proxy, the database (instance, or Aurora's capacity and replica lag),
then the outbox (deferred S3 cleanup).
infra/DEPLOY.md's runbook names the widget and the saved query to open for each alarm.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.api import METRICS_SERVICE_NAME, Api
from infra.database import Database
from infra.monitoring import Monitoring
from infra.settings import Settings
from lambda_app.external_services import outbox_metrics

PERIOD = Duration.minutes(1)
WIDTH = 24
HEIGHT = 6
LATENCY_PERCENTILES = ("p50", "p95", "p99")
API_REQUEST_LOGGER = "lambda_app.requests"
ROUTE_LABEL = "${PROP('Dim.route')}"
STATUS_CLASS_LABEL = "${PROP('Dim.status_class')}"


@dataclass(frozen=True)
class SavedQuery:
    """A CloudWatch Logs Insights query saved in the stack, under ``<prefix>/<name>``."""

    name: str
    query: str


# The API function's log group: the app's JSON lines (one per request, errors with their
# traceback) and, at system log level INFO, Lambda's platform records (JSON log format).
REQUESTS_BY_ROUTE = SavedQuery(
    "requests-by-route",
    f'filter logger = "{API_REQUEST_LOGGER}"\n'
    "| stats count(*) as requests, pct(duration_ms, 50) as p50_ms,"
    " pct(duration_ms, 95) as p95_ms, pct(duration_ms, 99) as p99_ms by route, status\n"
    "| sort requests desc",
)
SERVER_ERRORS = SavedQuery(
    "server-errors",
    'filter status >= 500 or level = "ERROR"\n'
    "| fields @timestamp, request_id, method, route, status, duration_ms, message, exception\n"
    "| sort @timestamp desc\n"
    "| limit 200",
)
FAILED_INVOCATIONS = SavedQuery(
    "failed-invocations",
    'filter type = "platform.report" and record.status != "success"\n'
    "| fields @timestamp, record.requestId, record.status, record.errorType,"
    " record.metrics.durationMs, record.metrics.maxMemoryUsedMB, record.metrics.memorySizeMB\n"
    "| sort @timestamp desc\n"
    "| limit 200",
)
COLD_STARTS = SavedQuery(
    "cold-starts",
    'filter type = "platform.report"\n'
    "| fields coalesce(record.metrics.restoreDurationMs, 0)"
    " + coalesce(record.metrics.initDurationMs, 0) as startup_ms\n"
    "| filter startup_ms > 0\n"
    "| stats count(*) as cold_starts, pct(startup_ms, 50) as p50_ms,"
    " pct(startup_ms, 99) as p99_ms, max(startup_ms) as max_ms by bin(5m)",
)
# The HTTP API's access log: every request, including those refused before the function.
GATEWAY_ERRORS = SavedQuery(
    "gateway-errors",
    "filter status like /^(5..|429)$/\n"
    "| stats count(*) as requests by status, routeKey, integrationError, authorizerError\n"
    "| sort requests desc",
)
# The instance's PostgreSQL log (exported to CloudWatch Logs).
DATABASE_ERRORS = SavedQuery(
    "database-errors",
    "filter @message like /ERROR|FATAL|PANIC|WARNING/\n"
    "| fields @timestamp, @message\n"
    "| sort @timestamp desc\n"
    "| limit 200",
)


class Dashboard(Construct):
    """The stage's CloudWatch dashboard and the Logs Insights queries the runbook uses."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: Api,
        database: Database,
        monitoring: Monitoring,
        settings: Settings,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        function_logs = api.function.log_group.log_group_name
        access_logs = _child_log_group(api, "AccessLogs").log_group_name
        database_logs = database.log_group.log_group_name
        self.queries: dict[str, logs.CfnQueryDefinition] = {}
        for query in (REQUESTS_BY_ROUTE, SERVER_ERRORS, FAILED_INVOCATIONS, COLD_STARTS):
            self._save(query, function_logs)
        self._save(GATEWAY_ERRORS, access_logs)
        self._save(DATABASE_ERRORS, database_logs)

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{settings.prefix}-service",
            default_interval=Duration.hours(3),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms (runbook: infra/DEPLOY.md)",
                alarms=list(monitoring.alarms),
                width=WIDTH,
                height=3,
            )
        )
        alarms = {alarm.node.id: alarm for alarm in monitoring.alarms}
        self.dashboard.add_widgets(*self._http_api(api, alarms))
        self.dashboard.add_widgets(*self._routes(function_logs))
        self.dashboard.add_widgets(*self._function(api, alarms, function_logs))
        self.dashboard.add_widgets(*self._proxy(alarms))
        self.dashboard.add_widgets(*self._instance(alarms))
        self.dashboard.add_widgets(*self._outbox(alarms))

    @property
    def name(self) -> str:
        return self.dashboard.dashboard_name

    def _save(self, query: SavedQuery, log_group_name: str) -> None:
        self.queries[query.name] = logs.CfnQueryDefinition(
            self,
            f"Query-{query.name}",
            name=f"{self._settings.prefix}/{query.name}",
            query_string=query.query,
            log_group_names=[log_group_name],
        )

    def _http_api(self, api: Api, alarms: dict[str, cloudwatch.Alarm]) -> list[cloudwatch.IWidget]:
        stage = api.stage
        count = stage.metric_count(period=PERIOD, statistic="Sum", label="requests")
        rates = [
            cloudwatch.MathExpression(
                expression=f"100 * {name} / requests",
                using_metrics={name: errors, "requests": count},
                label=f"{name[1:]} (% of requests)",
                period=PERIOD,
            )
            for name, errors in (
                ("e4xx", stage.metric_client_error(period=PERIOD, statistic="Sum")),
                ("e5xx", stage.metric_server_error(period=PERIOD, statistic="Sum")),
            )
        ]
        latency = [
            stage.metric_latency(period=PERIOD, statistic=p, label=f"latency {p}")
            for p in LATENCY_PERCENTILES
        ]
        integration = stage.metric_integration_latency(
            period=PERIOD, statistic="p99", label="integration latency p99"
        )
        return [
            _graph("HTTP API requests per minute", [count], width=6),
            _graph("HTTP API 4xx and 5xx rates (%)", rates, width=6),
            _graph("HTTP API latency (ms)", [*latency, integration], width=6),
            _alarm_graph("HTTP API 5xx (5-minute sums)", alarms["ApiServerErrors"], width=6),
        ]

    def _routes(self, function_logs: str) -> list[cloudwatch.IWidget]:
        namespace = self._settings.metrics_namespace

        def by_route(status_class: str | None) -> cloudwatch.SearchExpression:
            where = f' status_class="{status_class}"' if status_class else ""
            return cloudwatch.SearchExpression(
                expression=(
                    f"SEARCH('{{{namespace},route,service,status_class}} "
                    f"MetricName=\"Requests\"{where}', 'Sum', 60)"
                ),
                # A dynamic label: each series is named by its route (and status class).
                label=ROUTE_LABEL if status_class else f"{ROUTE_LABEL} {STATUS_CLASS_LABEL}",
                period=PERIOD,
            )

        return [
            _graph("Requests per minute by route and status (app)", [by_route(None)], width=8),
            _graph("4xx per minute by route (app)", [by_route("4xx")], width=8),
            _graph("5xx per minute by route (app)", [by_route("5xx")], width=8),
            cloudwatch.LogQueryWidget(
                title="Latency by route and status: p50/p95/p99 ms (request log)",
                log_group_names=[function_logs],
                query_string=REQUESTS_BY_ROUTE.query,
                view=cloudwatch.LogQueryVisualizationType.TABLE,
                width=WIDTH,
                height=HEIGHT,
            ),
        ]

    def _function(
        self, api: Api, alarms: dict[str, cloudwatch.Alarm], function_logs: str
    ) -> list[cloudwatch.IWidget]:
        function = api.function
        duration = [
            function.metric_duration(period=PERIOD, statistic=p, label=f"duration {p}")
            for p in (*LATENCY_PERCENTILES, "Maximum")
        ]
        cold_starts = cloudwatch.Metric(
            namespace=self._settings.metrics_namespace,
            metric_name="ColdStart",
            dimensions_map={"service": METRICS_SERVICE_NAME},
            period=PERIOD,
            statistic="Sum",
            label="cold starts (app)",
        )
        concurrency_limit = self._settings.reserved_concurrency
        return [
            _graph("Lambda duration (ms)", duration, width=6),
            _graph(
                "Lambda concurrency and cold starts",
                [function.metric("ConcurrentExecutions", period=PERIOD, statistic="Maximum")],
                right=[cold_starts],
                annotations=[]
                if concurrency_limit is None
                else [
                    cloudwatch.HorizontalAnnotation(
                        value=concurrency_limit, label="reserved concurrency"
                    )
                ],
                width=6,
            ),
            _graph(
                "Lambda errors and throttles (5-minute sums)",
                [alarms["FunctionErrors"].metric, alarms["FunctionThrottles"].metric],
                annotations=[
                    alarms["FunctionErrors"].to_annotation(),
                    alarms["FunctionThrottles"].to_annotation(),
                ],
                width=6,
            ),
            cloudwatch.LogQueryWidget(
                title="Cold starts: restore + init duration, ms (platform reports)",
                log_group_names=[function_logs],
                query_string=COLD_STARTS.query,
                view=cloudwatch.LogQueryVisualizationType.TABLE,
                width=6,
                height=HEIGHT,
            ),
        ]

    def _proxy(self, alarms: dict[str, cloudwatch.Alarm]) -> list[cloudwatch.IWidget]:
        return [
            _alarm_graph("RDS Proxy client connections", alarms["ProxyClientConnections"]),
            _alarm_graph(
                "RDS Proxy database connections (% of allowed)",
                alarms["ProxyDatabaseConnections"],
            ),
            _alarm_graph("RDS Proxy session-pinned connections", alarms["ProxySessionPinned"]),
        ]

    def _instance(self, alarms: dict[str, cloudwatch.Alarm]) -> list[cloudwatch.IWidget]:
        if "DatabaseAcuUtilization" in alarms:
            return [
                _alarm_graph("Aurora CPU (%)", alarms["DatabaseCpu"]),
                _alarm_graph(
                    "Aurora capacity (% of auroraMaxAcu)", alarms["DatabaseAcuUtilization"]
                ),
                _alarm_graph("Aurora replica lag (ms, maximum)", alarms["DatabaseReplicaLag"]),
            ]
        return [
            _alarm_graph("RDS CPU (%)", alarms["DatabaseCpu"]),
            _alarm_graph("RDS freeable memory (bytes)", alarms["DatabaseFreeableMemory"]),
            _alarm_graph("RDS free storage (bytes)", alarms["DatabaseFreeStorage"]),
        ]

    def _outbox(self, alarms: dict[str, cloudwatch.Alarm]) -> list[cloudwatch.IWidget]:
        oldest = alarms["OutboxOldestPending"]
        pending = cloudwatch.Metric(
            namespace=self._settings.metrics_namespace,
            metric_name=outbox_metrics.PENDING,
            dimensions_map={outbox_metrics.DIMENSION: outbox_metrics.SERVICE},
            period=PERIOD,
            statistic="Maximum",
            label="pending tasks",
        )
        return [
            _alarm_graph("Outbox: oldest pending task (seconds)", oldest),
            _graph("Outbox: pending tasks", [pending], width=8),
            _alarm_graph("Outbox: dead-lettered tasks", alarms["OutboxDeadLettered"]),
        ]


def _graph(
    title: str,
    left: list[cloudwatch.IMetric],
    *,
    width: int,
    right: list[cloudwatch.IMetric] | None = None,
    annotations: list[cloudwatch.HorizontalAnnotation] | None = None,
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title,
        left=left,
        right=right or [],
        left_annotations=annotations or [],
        width=width,
        height=HEIGHT,
    )


def _alarm_graph(title: str, alarm: cloudwatch.Alarm, *, width: int = 8) -> cloudwatch.GraphWidget:
    """The alarm's own metric, at its own period and statistic, with its threshold drawn."""
    return _graph(title, [alarm.metric], annotations=[alarm.to_annotation()], width=width)


def _child_log_group(construct: Construct, child_id: str) -> logs.ILogGroup:
    """A log group one of our constructs creates, found by its construct id."""
    child = construct.node.find_child(child_id)
    assert isinstance(child, logs.LogGroup), child_id
    return child
