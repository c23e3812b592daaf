"""A minimal external agent: plays the Investigator over WebSockets against the server's house bots.

    fraudarena serve            # in another terminal
    python examples/external_agent.py ws://127.0.0.1:8000
"""

import asyncio
import sys

from fraudarena.agents.client import RoleClient, play_seat


class AlwaysEndTurn:
    """Replace ``act`` with your policy: observation dict in, action dict out (docs/rules.md)."""

    def act(self, obs: dict) -> dict:
        return {"action_type": "end_turn"}


async def main(url: str) -> None:
    async with RoleClient(url, "investigator") as client:
        obs = await client.reset(task_id="task_2", house_bots={"fraudster": "scripted", "auditor": "scripted"})
        final = await play_seat(client, AlwaysEndTurn(), obs)  # acts on our turns, waits on pushed events
        print("reward", final["reward"], "grader", final["record"]["grader"]["score"])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8000"))
