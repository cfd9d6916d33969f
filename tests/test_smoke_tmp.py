import uuid
from temporalio.client import WorkflowFailureError
from worker import build_worker
from tests.claims import auto_claim

async def test_fast(time_env, settings, engine):
    q = f"q-{uuid.uuid4().hex[:6]}"
    async with build_worker(time_env.client, settings, engine, task_queue=q):
        c = auto_claim()
        h = await time_env.client.start_workflow("ClaimWorkflow", c, id=f"claim-{c['claim_id']}", task_queue=q)
        res = await h.result()
        print(res)
        st = await h.query("status")
        print(st)
