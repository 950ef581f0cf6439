"""A kernel client that is ready as soon as the kernel is: `ReadyClient`.

jupyter_client's `wait_for_ready` asks the kernel for its kernel_info, then waits for IOPub to be
quiet for 0.2 s (and 1 s between tries): a fixed fifth of a second per kernel, which a forked kernel
(gradekit.sandbox.forked), ready in a few hundredths, would spend mostly waiting. `ReadyClient`
is ready at the first kernel_info_reply once IOPub is known to be subscribed: by the kernel's
`iopub_welcome` (JEP 65, ipykernel 7: sent as soon as a subscription arrives) or by the IOPub idle
status of that very request (the Jupyter messaging protocol: every request is answered on shell and
framed by busy/idle status messages on IOPub). It asks again whenever RETRY seconds pass without a
message, until then: without the welcome, a status published before the subscription was lost, and
waiting for it cost RETRY seconds of some starts.
"""

from __future__ import annotations

import asyncio
import time

from jupyter_client.asynchronous import AsyncKernelClient

RETRY = 0.05  # seconds without an answer after which the kernel is asked again whether it is ready


class ReadyClient(AsyncKernelClient):
    """nbclient's kernel client for forked kernels: ready at the first kernel_info_reply and its
    IOPub idle status, with no fixed wait (jupyter_client waits 0.2 s for IOPub to be quiet)."""

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        asked: set[str] = set()
        replied, ask, welcomed = None, True, False
        while True:
            if ask:
                asked.add(self.kernel_info())
            try:  # a kernel_info_reply, IOPub's welcome, or IOPub's idle after a reply
                msg = await self._next(RETRY)
            except TimeoutError:
                msg = None
            subscribed = False
            if msg is not None and msg["msg_type"] == "iopub_welcome":
                welcomed = True
            elif msg is not None and msg["parent_header"].get("msg_id") in asked:
                if msg["msg_type"] == "kernel_info_reply":
                    replied = msg
                subscribed = is_idle(msg)
            if replied is not None and (welcomed or subscribed):
                self._handle_kernel_info_reply(replied)
                return
            ask = msg is None  # RETRY seconds without a word: ask again
            if ask and replied is not None:
                replied = None  # IOPub missed the status (not yet subscribed): ask again
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

    wait_for_ready = _async_wait_for_ready

    async def _next(self, timeout: float) -> dict:
        """The next message on the shell or IOPub channel; TimeoutError after `timeout` seconds."""
        for channel in (self.shell_channel, self.iopub_channel):
            if await channel.msg_ready():
                return await channel.get_msg()
        shell = asyncio.ensure_future(self.shell_channel.socket.poll(timeout * 1000))
        iopub = asyncio.ensure_future(self.iopub_channel.socket.poll(timeout * 1000))
        done, pending = await asyncio.wait([shell, iopub], return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for channel, task in ((self.shell_channel, shell), (self.iopub_channel, iopub)):
            if task in done and task.result():
                return await channel.get_msg()
        raise TimeoutError


def is_idle(msg: dict) -> bool:
    return msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"
