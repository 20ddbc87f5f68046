"""Sends a dbt-like job's START and COMPLETE run events to Agora with the real
openlineage-python client: usage: openlineage_emit.py URL TOKEN."""
import sys
import uuid
from datetime import datetime, timezone

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import column_lineage_dataset as cl
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

url, token = sys.argv[1], sys.argv[2]
client = OpenLineageClient(
    transport=HttpTransport(
        HttpConfig(url=url, auth=ApiKeyTokenProvider({"apiKey": token}), retry={"total": 0})
    )
)
run = Run(runId=str(uuid.uuid4()))
job = Job(namespace="dbt", name="daily_revenue")
orders = InputDataset(namespace="agora", name="sales.orders")
revenue = OutputDataset(
    namespace="agora",
    name="sales.revenue",
    facets={
        "columnLineage": cl.ColumnLineageDatasetFacet(
            fields={
                "total": cl.Fields(
                    inputFields=[
                        cl.InputField(
                            namespace="agora",
                            name="sales.orders",
                            field="amount",
                            transformations=[
                                cl.Transformation(type="INDIRECT", subtype="AGGREGATION", description="sum")
                            ],
                        )
                    ],
                    transformationType="",
                    transformationDescription="",
                ),
                "region": cl.Fields(
                    inputFields=[cl.InputField(namespace="agora", name="sales.orders", field="region")],
                    transformationType="",
                    transformationDescription="",
                ),
            }
        )
    },
)
for state in (RunState.START, RunState.COMPLETE):
    client.emit(
        RunEvent(
            eventType=state,
            eventTime=datetime.now(timezone.utc).isoformat(),
            run=run,
            job=job,
            producer="https://github.com/OpenLineage/OpenLineage/tree/1.0.0/client/python",
            inputs=[orders],
            outputs=[revenue],
        )
    )
print("sent 2 events")
