"""Real neonize event objects, a fake of neonize's FFI layer, and a host wired to both.

The only stand-in is at the WhatsApp network boundary: the object neonize's client calls for
every Go function (`NewAClient._NewAClient__client`). It answers with real serialised protobuf
replies, as the Go library does, and records what it was asked.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
import time
from collections.abc import Awaitable, Callable
from hashlib import sha256
from pathlib import Path
from typing import Any

from adapters.transport.neonize.environment import prepare_environment

prepare_environment()

from neonize.aioze import events as nev  # noqa: E402
from neonize.events import EVENT_TO_INT  # noqa: E402
from neonize.proto import Neonize_pb2 as npb  # noqa: E402
from neonize.proto.waCommon.WACommon_pb2 import MessageKey as WaKey  # noqa: E402
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e  # noqa: E402

from adapters.transport.neonize.host import NeonizeHost, RetryPolicy  # noqa: E402
from adapters.transport.neonize.hosted import HostedClient  # noqa: E402

ME = "15550001111"
EMPTY = npb.JID(User="", Server="", RawAgent=0, Device=0, Integrator=0, IsEmpty=True)


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> npb.JID:
    return npb.JID(User=user, Server=server, RawAgent=0, Device=device, Integrator=0, IsEmpty=False)


def source(
    chat: npb.JID,
    sender: npb.JID,
    *,
    from_me: bool = False,
    group: bool = False,
    sender_alt: npb.JID | None = None,
    recipient_alt: npb.JID | None = None,
) -> npb.MessageSource:
    return npb.MessageSource(
        Chat=chat,
        Sender=sender,
        IsFromMe=from_me,
        IsGroup=group,
        SenderAlt=sender_alt or EMPTY,
        RecipientAlt=recipient_alt or EMPTY,
        BroadcastListOwner=EMPTY,
    )


def message_event(
    msg_id: str,
    src: npb.MessageSource,
    body: e2e.Message,
    *,
    push_name: str = "Ana",
    timestamp_ms: int = 1_760_000_000_000,
) -> npb.Message:
    info = npb.MessageInfo(
        MessageSource=src,
        ID=msg_id,
        ServerID=0,
        Type="text",
        Pushname=push_name,
        Timestamp=timestamp_ms,
        Category="",
        Multicast=False,
        MediaType="",
        Edit="",
    )
    return npb.Message(
        Info=info,
        Message=body,
        IsEphemeral=False,
        IsViewOnce=False,
        IsViewOnceV2=False,
        IsViewOnceV2Extension=False,
        IsDocumentWithCaption=False,
        IsLottieSticker=False,
        IsEdit=False,
        UnavailableRequestID="",
        RetryCount=0,
    )


def receipt_event(
    src: npb.MessageSource, ids: list[str], kind: int, timestamp: int = 1_760_000_100
) -> npb.Receipt:
    return npb.Receipt(MessageSource=src, MessageIDs=ids, Timestamp=timestamp, Type=kind)


def media_part(kind: str, **fields: Any) -> e2e.Message:
    """An incoming media message as WhatsApp sends it (keys and paths, no bytes)."""
    common = {"URL": "https://mmg.example/x", "directPath": "/v/x", "mediaKey": b"k" * 32}
    cls = {
        "imageMessage": e2e.ImageMessage,
        "videoMessage": e2e.VideoMessage,
        "audioMessage": e2e.AudioMessage,
        "documentMessage": e2e.DocumentMessage,
        "stickerMessage": e2e.StickerMessage,
    }[kind]
    message = e2e.Message()
    getattr(message, kind).CopyFrom(cls(**common, **fields))
    return message


def group_proto(
    user: str, name: str, members: list[tuple[str, str, bool]], *, topic: str = "", owner: str = ME
) -> npb.GroupInfo:
    """A GroupInfo as whatsmeow gives it; members are (LID user, phone user, is admin)."""
    people = [
        npb.GroupParticipant(
            JID=jid(lid, "lid"), LID=jid(lid, "lid"), PhoneNumber=jid(phone) if phone else EMPTY,
            IsAdmin=admin, IsSuperAdmin=phone == owner, DisplayName="", Error=0,
        )
        for lid, phone, admin in members
    ]  # fmt: skip
    return npb.GroupInfo(
        JID=jid(user, "g.us"), OwnerJID=jid(owner), OwnerPN=EMPTY,
        GroupName=npb.GroupName(Name=name, NameSetAt=0, NameSetBy=EMPTY),
        GroupTopic=npb.GroupTopic(
            Topic=topic, TopicID="TOPIC1" if topic else "", TopicSetAt=0, TopicSetBy=EMPTY,
            TopicDeleted=False,
        ),
        GroupLocked=npb.GroupLocked(isLocked=False),
        GroupAnnounce=npb.GroupAnnounce(IsAnnounce=False, AnnounceVersionID=""),
        GroupEphemeral=npb.GroupEphemeral(IsEphemeral=False, DisappearingTimer=0),
        GroupIncognito=npb.GroupIncognito(IsIncognito=False),
        GroupParent=npb.GroupParent(IsParent=False, DefaultMembershipApprovalMode=""),
        GroupLinkedParent=npb.GroupLinkedParent(LinkedParentJID=EMPTY),
        GroupIsDefaultSub=npb.GroupIsDefaultSub(IsDefaultSubGroup=False),
        GroupCreated=1_760_000_000, ParticipantVersionID="", Participants=people,
    )  # fmt: skip


class FakeGo:
    """neonize's FFI layer, answering like the Go library at the network boundary."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.downloads: dict[str, bytes] = {}  # directPath -> bytes
        self.lids: dict[str, str] = {}  # lid user -> phone user
        self.on_whatsapp: dict[str, str] = {}  # digits -> JID user
        self.contacts: list[npb.Contact] = []
        self.sent = 0
        self.fail_send: str | None = None
        self.votes: dict[str, list[str]] = {}  # poll-update message id -> option names
        self.groups: dict[str, npb.GroupInfo] = {}  # group JID user -> info

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected Go call {name}")

    async def SendMessage(self, uuid: bytes, to: bytes, _n: int, msg: bytes, _m: int) -> bytes:
        to_jid = npb.JID.FromString(to)
        body = e2e.Message.FromString(msg)
        self.calls.append(("SendMessage", (to_jid, body)))
        if self.fail_send:
            return npb.SendMessageReturnFunction(Error=self.fail_send).SerializeToString()
        self.sent += 1
        timings = npb.MessageDebugTimings(
            Queue=0, Marshal=0, GetParticipants=0, GetDevices=0, GroupEncrypt=0,
            PeerEncrypt=0, Send=0, Resp=0, Retry=0,
        )  # fmt: skip
        response = npb.SendResponse(
            Timestamp=1_760_000_000, ID=f"WA{self.sent:04d}", ServerID=0, DebugTimings=timings
        )
        return npb.SendMessageReturnFunction(SendResponse=response).SerializeToString()

    async def Upload(self, uuid: bytes, data: bytes, size: int, media_type: int) -> bytes:
        self.calls.append(("Upload", (bytes(data), media_type)))
        upload = npb.UploadResponse(
            url="https://mmg.example/up",
            DirectPath="/v/up",
            Handle="h",
            MediaKey=b"m" * 32,
            FileEncSHA256=b"e" * 32,
            FileSHA256=b"s" * 32,
            FileLength=size,
        )
        return npb.UploadReturnFunction(UploadResponse=upload).SerializeToString()

    async def DownloadAny(self, uuid: bytes, msg: bytes, _n: int) -> bytes:
        body = e2e.Message.FromString(msg)
        self.calls.append(("DownloadAny", body))
        for _field, value in body.ListFields():
            path = getattr(value, "directPath", None)
            if path in self.downloads:
                return npb.DownloadReturnFunction(Binary=self.downloads[path]).SerializeToString()
        return npb.DownloadReturnFunction(Error="media gone (410)").SerializeToString()

    async def GetPNFromLID(self, uuid: bytes, data: bytes, _n: int) -> bytes:
        lid = npb.JID.FromString(data)
        self.calls.append(("GetPNFromLID", lid.User))
        user = self.lids.get(lid.User)
        found = jid(user) if user else EMPTY
        return npb.GetJIDFromStoreReturnFunction(Jid=found).SerializeToString()

    async def IsOnWhatsApp(self, uuid: bytes, numbers: bytes, _n: int) -> bytes:
        queries = numbers.decode().split(" ")
        self.calls.append(("IsOnWhatsApp", queries))
        answers = []
        for query in queries:
            user = self.on_whatsapp.get(query.lstrip("+"))
            answers.append(
                npb.IsOnWhatsAppResponse(
                    Query=query, JID=jid(user) if user else EMPTY, IsIn=user is not None
                )
            )
        return npb.IsOnWhatsAppReturnFunction(IsOnWhatsAppResponse=answers).SerializeToString()

    async def MarkRead(self, uuid: bytes, ids: bytes, ts: int, chat: bytes, _c: int,
                       sender: bytes, _s: int, receipt: Any) -> bytes:  # fmt: skip
        self.calls.append(
            ("MarkRead", (ids.decode().split(" "), npb.JID.FromString(chat).User,
                          npb.JID.FromString(sender).User, receipt))
        )  # fmt: skip
        return b""

    async def GetAllContacts(self, uuid: bytes) -> bytes:
        self.calls.append(("GetAllContacts", None))
        return npb.ContactsGetAllContactsReturnFunction(Contact=self.contacts).SerializeToString()

    async def PutContactName(
        self, uuid: bytes, user: bytes, _n: int, full: bytes, first: bytes
    ) -> bytes:
        self.calls.append(
            ("PutContactName", (npb.JID.FromString(user).User, full.decode(), first.decode()))
        )
        return b""

    async def PairPhone(self, uuid: bytes, payload: bytes, _n: int) -> bytes:
        params = npb.PairPhoneParams.FromString(payload)
        self.calls.append(("PairPhone", params.phone))
        return npb.PairPhoneReturnFunction(Code="ABCD-EFGH").SerializeToString()

    async def BuildPollVote(
        self, uuid: bytes, info: bytes, _n: int, options: bytes, _m: int
    ) -> bytes:
        poll = npb.MessageInfo.FromString(info)
        names = list(npb.ArrayString.FromString(options).data)
        self.calls.append(("BuildPollVote", (poll, names)))
        # whatsmeow encrypts the SHA-256 of each option with the poll's secret: stand-in bytes
        vote = e2e.Message(
            pollUpdateMessage=e2e.PollUpdateMessage(
                pollCreationMessageKey=WaKey(remoteJID="x", fromMe=False, ID=poll.ID),
                vote=e2e.PollEncValue(encPayload=b"enc", encIV=b"iv"),
            )
        )
        return npb.BuildPollVoteReturnFunction(PollVote=vote).SerializeToString()

    async def DecryptPollVote(self, uuid: bytes, msg: bytes, _n: int) -> bytes:
        ev = npb.Message.FromString(msg)
        self.calls.append(("DecryptPollVote", ev.Info.ID))
        picked = self.votes.get(ev.Info.ID)
        if picked is None:
            return npb.ReturnFunctionWithError(Error="no secret for the poll").SerializeToString()
        vote = e2e.PollVoteMessage(selectedOptions=[sha256(o.encode()).digest() for o in picked])
        return npb.ReturnFunctionWithError(PollVoteMessage=vote).SerializeToString()

    async def SendChatPresence(
        self, uuid: bytes, to: bytes, _n: int, state: int, media: int
    ) -> bytes:
        self.calls.append(("SendChatPresence", (npb.JID.FromString(to).User, state, media)))
        return b""

    async def SendAppState(self, uuid: bytes, patch: bytes, _n: int) -> bytes:
        self.calls.append(("SendAppState", npb.PatchInfo.FromString(patch)))
        return b""  # whatsmeow's error text; empty: the patch was accepted

    async def SendPresence(self, uuid: bytes, presence: bytes) -> bytes:
        self.calls.append(("SendPresence", presence))
        return b""

    # --- groups: one group book, answered as whatsmeow would ----------------------------------

    async def GetJoinedGroups(self, uuid: bytes) -> bytes:
        self.calls.append(("GetJoinedGroups", None))
        found = list(self.groups.values())
        return npb.GetJoinedGroupsReturnFunction(Group=found).SerializeToString()

    async def GetGroupInfo(self, uuid: bytes, group: bytes, _n: int) -> bytes:
        user = npb.JID.FromString(group).User
        self.calls.append(("GetGroupInfo", user))
        if user not in self.groups:
            return npb.GetGroupInfoReturnFunction(Error="item-not-found").SerializeToString()
        return npb.GetGroupInfoReturnFunction(GroupInfo=self.groups[user]).SerializeToString()

    async def GenerateMessageID(self, uuid: bytes) -> bytes:
        return b"3EB0CREATEKEY"

    async def CreateGroup(self, uuid: bytes, req: bytes, _n: int) -> bytes:
        ask = npb.ReqCreateGroup.FromString(req)
        self.calls.append(("CreateGroup", (ask.name, [p.User for p in ask.Participants])))
        members = [(ME, ME, True)] + [(p.User, p.User, False) for p in ask.Participants]
        self.groups["120363999"] = group_proto("120363999", ask.name, members)
        return npb.GetGroupInfoReturnFunction(
            GroupInfo=self.groups["120363999"]
        ).SerializeToString()

    async def SetGroupName(self, uuid: bytes, group: bytes, _n: int, name: Any) -> bytes:
        self.calls.append(("SetGroupName", (npb.JID.FromString(group).User, name.value.decode())))
        return b""

    async def SetGroupTopic(
        self, uuid: bytes, group: bytes, _n: int, previous: bytes, new: bytes, topic: bytes
    ) -> bytes:
        user = npb.JID.FromString(group).User
        self.calls.append(
            ("SetGroupTopic", (user, previous.decode(), new.decode(), topic.decode()))
        )
        return b""

    async def UpdateGroupParticipants(
        self, uuid: bytes, group: bytes, _n: int, jids: bytes, _m: int, action: bytes
    ) -> bytes:
        people = [j.User for j in npb.JIDArray.FromString(jids).JIDS]
        self.calls.append(("UpdateGroupParticipants", (people, action.decode())))
        return npb.UpdateGroupParticipantsReturnFunction().SerializeToString()

    async def GetGroupInviteLink(self, uuid: bytes, group: bytes, _n: int, revoke: bool) -> bytes:
        self.calls.append(("GetGroupInviteLink", revoke))
        link = "https://chat.whatsapp.com/" + ("NEWCODE" if revoke else "CODE") + "0123456789"
        return npb.GetGroupInviteLinkReturnFunction(InviteLink=link).SerializeToString()

    async def JoinGroupWithLink(self, uuid: bytes, code: bytes) -> bytes:
        self.calls.append(("JoinGroupWithLink", code.decode()))
        found = jid("120363777", "g.us")
        return npb.JoinGroupWithLinkReturnFunction(Jid=found).SerializeToString()

    async def LeaveGroup(self, uuid: bytes, group: bytes, _n: int) -> bytes:
        self.calls.append(("LeaveGroup", npb.JID.FromString(group).User))
        return b""

    async def Logout(self, uuid: bytes) -> bytes:
        self.calls.append(("Logout", uuid))
        return b""

    async def Stop(self, uuid: bytes) -> bytes:
        self.calls.append(("Stop", uuid))
        return b""

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class Recorder:
    """Collects the protocol `event` messages the host emits."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.events.append(message)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events if e["type"] == kind]

    async def wait_for(self, check: Callable[[], bool], within: float = 20.0) -> None:
        await eventually(check, within)


async def eventually(check: Callable[[], bool], within: float = 20.0) -> None:
    """Waits until `check()` holds: events arrive from other threads and tasks."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"condition not met within {within}s"
        await asyncio.sleep(0.005)


def make_host(tmp_path: Path, emit: Callable[[dict[str, Any]], Awaitable[None]]) -> NeonizeHost:
    return NeonizeHost(
        tmp_path / "instances",
        emit,
        max_clients=4,
        proxy="socks5://127.0.0.1:9",
        retry=RetryPolicy(initial_s=0.01, max_s=0.05, jitter_s=0.01),
        settle_timeout_s=2.0,
        stop_timeout_s=2.0,
    )


def attach(host: NeonizeHost, instance_id: str, go: FakeGo, *, paired: bool = True) -> HostedClient:
    """A hosted client as after a real connect, its Go side answered by `go`."""
    host._bind_loop()
    hosted = host._new_client(instance_id)
    hosted.client._NewAClient__client = go
    hosted.client.contact._ContactStore__client = go
    hosted.go_registered = True
    if paired:
        hosted.paired = hosted.online = True
        hosted.phone = ME
    host._hosted[instance_id] = hosted
    return hosted


def handler(hosted: HostedClient, event_type: type) -> Callable[[Any, Any], Awaitable[None]]:
    """The handler the host registered with neonize for one event type."""
    return hosted.client.event.list_func[EVENT_TO_INT[event_type]]  # type: ignore[no-any-return]


def dispatch(hosted: HostedClient, event: Any) -> None:
    """Delivers an event the way Go does: serialised, from a foreign thread, via execute()."""
    data = event.SerializeToString()
    buffer = ctypes.create_string_buffer(data, len(data))
    code = EVENT_TO_INT[type(event)]
    thread = threading.Thread(
        target=hosted.client.event.execute,
        args=(None, ctypes.addressof(buffer), len(data), code),
    )
    thread.start()
    thread.join()


def go_string_callback(callback: Callable[[Any, int], None], text: str) -> None:
    """Calls a (uuid, char*) callback as Go does, from a foreign thread."""
    buffer = ctypes.create_string_buffer(text.encode())
    thread = threading.Thread(target=callback, args=(None, ctypes.addressof(buffer)))
    thread.start()
    thread.join()


def reset_event_loop() -> None:
    nev.event_global_loop = None
