"""LTI Advantage services of the peer platform: Assignment and Grade Services and NRPS.

The lti1p3platform package provides the request handling (bearer token checks,
status codes, paging links) in AssignmentsGradesService and
NamesRoleProvisioningService. This module supplies the in-memory storage those
abstract classes leave open, and validates line items and scores, which the
package does not.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
import typing as t
import urllib.parse
from datetime import datetime

from lti1p3platform.exceptions import LineItemNotFoundException, LtiServiceException
from lti1p3platform.lineitem import TLineItem
from lti1p3platform.membership import Context
from lti1p3platform.score import ActivityProgress, GradeProgress, TScore, UpdateScoreStatus
from lti1p3platform.service_connector import (
    AssignmentsGradesService,
    NamesRoleProvisioningService,
    TPage,
)

from peer_lti import PeerPlatformConf, PeerRequest, PendingLaunch

AGS_SCOPE_PREFIX = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPE_LINEITEM = AGS_SCOPE_PREFIX + "lineitem"
SCOPE_LINEITEM_READONLY = AGS_SCOPE_PREFIX + "lineitem.readonly"
SCOPE_RESULT_READONLY = AGS_SCOPE_PREFIX + "result.readonly"
SCOPE_SCORE = AGS_SCOPE_PREFIX + "score"

# Maximum score of the line item created for each launched resource link. The
# value is arbitrary, because tools read it from the line item.
DEFAULT_SCORE_MAXIMUM = 100

ACTIVITY_PROGRESS_VALUES = frozenset(item.value for item in ActivityProgress)
GRADING_PROGRESS_VALUES = frozenset(item.value for item in GradeProgress)


def quote_segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class AdvantageUrls:
    """URLs of the AGS and NRPS endpoints, for one platform base URL."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def lineitems_url(self, context_id: str) -> str:
        return f"{self.base_url}/ags/contexts/{quote_segment(context_id)}/lineitems"

    def lineitem_url(self, context_id: str, line_item_id: str) -> str:
        return f"{self.lineitems_url(context_id)}/{quote_segment(line_item_id)}"

    def memberships_url(self, context_id: str) -> str:
        return f"{self.base_url}/nrps/contexts/{quote_segment(context_id)}/memberships"


def paginate(items: t.List[t.Any], page: int, limit: t.Optional[int]) -> TPage:
    """Return one page of items as the package's TPage (pages count from 1)."""
    if limit is None:
        return {"content": items, "has_next": False, "next": None}
    start = (page - 1) * limit
    return {
        "content": items[start : start + limit],
        "has_next": start + limit < len(items),
        "next": None,
    }


def is_number(value: t.Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class AdvantageStore:
    """In-memory contexts, members, line items and scores, shared by all request threads."""

    def __init__(self, urls: AdvantageUrls) -> None:
        self.urls = urls
        self._lock = threading.Lock()
        self._next_line_item_number = itertools.count(1)
        self._contexts: t.Dict[str, Context] = {}
        self._members: t.Dict[str, t.Dict[str, t.Dict[str, t.Any]]] = {}
        self._resource_links: t.Dict[str, t.Set[str]] = {}
        # context id -> line item id -> line item as sent to tools ("id" is its URL)
        self._line_items: t.Dict[str, t.Dict[str, t.Dict[str, t.Any]]] = {}
        # (context id, line item id, user id) -> latest accepted score
        self._latest_scores: t.Dict[t.Tuple[str, str, str], t.Dict[str, t.Any]] = {}
        self._received_scores: t.List[t.Dict[str, t.Any]] = []

    def record_launch(self, launch: PendingLaunch) -> t.Optional[str]:
        """Register the launch's context, member and resource link.

        Returns the id of the resource link's line item, created on its first
        launch, or None for a deep linking launch, which has no resource link.
        """
        with self._lock:
            context_id = launch.context_id
            self._contexts[context_id] = Context(
                id=context_id, label=context_id, title=launch.context_title
            )
            member: t.Dict[str, t.Any] = {
                "user_id": launch.user_id,
                "roles": list(launch.roles),
                "status": "Active",
            }
            if launch.name:
                member["name"] = launch.name
            if launch.email:
                member["email"] = launch.email
            self._members.setdefault(context_id, {})[launch.user_id] = member

            if launch.resource_link_id is None:
                return None
            self._resource_links.setdefault(context_id, set()).add(launch.resource_link_id)
            return self._find_or_create_link_item(launch)

    def _find_or_create_link_item(self, launch: PendingLaunch) -> str:
        items = self._line_items.setdefault(launch.context_id, {})
        for item_id, item in items.items():
            if item.get("resourceLinkId") == launch.resource_link_id:
                return item_id

        item_id = str(next(self._next_line_item_number))
        items[item_id] = {
            "id": self.urls.lineitem_url(launch.context_id, item_id),
            "label": launch.resource_link_title or f"Resource link {launch.resource_link_id}",
            "scoreMaximum": DEFAULT_SCORE_MAXIMUM,
            "resourceLinkId": launch.resource_link_id,
        }
        return item_id

    def has_context(self, context_id: str) -> bool:
        with self._lock:
            return context_id in self._contexts

    def get_context(self, context_id: str) -> Context:
        with self._lock:
            return self._contexts[context_id]

    def has_resource_link(self, context_id: str, resource_link_id: str) -> bool:
        with self._lock:
            return resource_link_id in self._resource_links.get(context_id, set())

    def list_members(self, context_id: str) -> t.List[t.Dict[str, t.Any]]:
        with self._lock:
            return [dict(member) for member in self._members.get(context_id, {}).values()]

    def list_line_items(self, context_id: str) -> t.List[t.Dict[str, t.Any]]:
        with self._lock:
            return [dict(item) for item in self._line_items.get(context_id, {}).values()]

    def get_line_item(self, context_id: str, line_item_id: str) -> t.Dict[str, t.Any]:
        with self._lock:
            item = self._line_items.get(context_id, {}).get(line_item_id)
            if item is None:
                raise LineItemNotFoundException(f"Line item {line_item_id} not found")
            return dict(item)

    def create_line_item(self, context_id: str, data: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        with self._lock:
            self._validate_line_item(context_id, data)
            item_id = str(next(self._next_line_item_number))
            item = {key: value for key, value in data.items() if key != "id"}
            item["id"] = self.urls.lineitem_url(context_id, item_id)
            self._line_items.setdefault(context_id, {})[item_id] = item
            return dict(item)

    def replace_line_item(
        self, context_id: str, line_item_id: str, data: t.Dict[str, t.Any]
    ) -> t.Dict[str, t.Any]:
        with self._lock:
            items = self._line_items.get(context_id, {})
            if line_item_id not in items:
                raise LineItemNotFoundException(f"Line item {line_item_id} not found")
            self._validate_line_item(context_id, data)
            item = {key: value for key, value in data.items() if key != "id"}
            item["id"] = self.urls.lineitem_url(context_id, line_item_id)
            items[line_item_id] = item
            return dict(item)

    def delete_line_item(self, context_id: str, line_item_id: str) -> None:
        with self._lock:
            items = self._line_items.get(context_id, {})
            if items.pop(line_item_id, None) is None:
                raise LineItemNotFoundException(f"Line item {line_item_id} not found")

    def _validate_line_item(self, context_id: str, data: t.Dict[str, t.Any]) -> None:
        # Rules from LTI AGS 2.0, line item service: label and a positive
        # scoreMaximum are required, and resourceLinkId must be a link of the context.
        label = data.get("label")
        if not isinstance(label, str) or not label.strip():
            raise LtiServiceException("label is required and must be a non-empty string", 400)
        score_maximum = data.get("scoreMaximum")
        if not is_number(score_maximum) or score_maximum <= 0:
            raise LtiServiceException("scoreMaximum is required and must be a number above 0", 400)
        resource_link_id = data.get("resourceLinkId")
        if resource_link_id is not None and resource_link_id not in self._resource_links.get(
            context_id, set()
        ):
            raise LtiServiceException(
                f"resourceLinkId {resource_link_id!r} is not a resource link of context {context_id!r}",
                400,
            )

    def add_score(self, context_id: str, line_item_id: str, score: t.Dict[str, t.Any]) -> UpdateScoreStatus:
        """Validate and store a score. Returns OLD_TIMESTAMP for a score older than the stored one."""
        timestamp = validate_score(score)
        with self._lock:
            if line_item_id not in self._line_items.get(context_id, {}):
                raise LineItemNotFoundException(f"Line item {line_item_id} not found")

            key = (context_id, line_item_id, score["userId"])
            previous = self._latest_scores.get(key)
            # LTI AGS 2.0: the platform must not update a result whose stored
            # timestamp is later than the incoming one.
            if previous is not None and timestamp < previous["parsed_timestamp"]:
                return UpdateScoreStatus.OLD_TIMESTAMP

            self._latest_scores[key] = {"parsed_timestamp": timestamp, "score": dict(score)}
            self._received_scores.append(
                {
                    "context_id": context_id,
                    "line_item_id": line_item_id,
                    "line_item_url": self.urls.lineitem_url(context_id, line_item_id),
                    "received_at": time.time(),
                    "score": dict(score),
                }
            )
            return UpdateScoreStatus.SUCCESS if previous else UpdateScoreStatus.CREATED

    def list_received_scores(self) -> t.List[t.Dict[str, t.Any]]:
        with self._lock:
            return [dict(record) for record in self._received_scores]

    def list_results(self, context_id: str, line_item_id: str) -> t.List[t.Dict[str, t.Any]]:
        with self._lock:
            if line_item_id not in self._line_items.get(context_id, {}):
                raise LineItemNotFoundException(f"Line item {line_item_id} not found")
            line_item_url = self.urls.lineitem_url(context_id, line_item_id)
            results = []
            for (score_context, score_item, user_id), latest in self._latest_scores.items():
                if (score_context, score_item) != (context_id, line_item_id):
                    continue
                score = latest["score"]
                result: t.Dict[str, t.Any] = {
                    "id": f"{line_item_url}/results/{quote_segment(user_id)}",
                    "scoreOf": line_item_url,
                    "userId": user_id,
                }
                if "scoreGiven" in score:
                    result["resultScore"] = score["scoreGiven"]
                    result["resultMaximum"] = score["scoreMaximum"]
                if "comment" in score:
                    result["comment"] = score["comment"]
                results.append(result)
            return results


def validate_score(score: t.Any) -> datetime:
    """Check a score against the LTI AGS 2.0 score schema and return its parsed timestamp.

    Raises LtiServiceException with status 400 on the first invalid field.
    """
    if not isinstance(score, dict):
        raise LtiServiceException("score body must be a JSON object", 400)

    user_id = score.get("userId")
    if not isinstance(user_id, str) or not user_id:
        raise LtiServiceException("userId is required and must be a non-empty string", 400)

    raw_timestamp = score.get("timestamp")
    if not isinstance(raw_timestamp, str):
        raise LtiServiceException("timestamp is required and must be an ISO 8601 string", 400)
    try:
        timestamp = datetime.fromisoformat(raw_timestamp)
    except ValueError as error:
        raise LtiServiceException(f"timestamp {raw_timestamp!r} is not ISO 8601", 400) from error
    if timestamp.tzinfo is None:
        raise LtiServiceException(f"timestamp {raw_timestamp!r} has no UTC offset", 400)

    if score.get("activityProgress") not in ACTIVITY_PROGRESS_VALUES:
        allowed = ", ".join(sorted(ACTIVITY_PROGRESS_VALUES))
        raise LtiServiceException(f"activityProgress must be one of {allowed}", 400)
    if score.get("gradingProgress") not in GRADING_PROGRESS_VALUES:
        allowed = ", ".join(sorted(GRADING_PROGRESS_VALUES))
        raise LtiServiceException(f"gradingProgress must be one of {allowed}", 400)

    if "scoreGiven" in score:
        score_given = score["scoreGiven"]
        score_maximum = score.get("scoreMaximum")
        if not is_number(score_given) or score_given < 0:
            raise LtiServiceException("scoreGiven must be a number of at least 0", 400)
        if not is_number(score_maximum) or score_maximum <= 0:
            raise LtiServiceException("scoreMaximum is required with scoreGiven and must be above 0", 400)

    if "comment" in score and score["comment"] is not None and not isinstance(score["comment"], str):
        raise LtiServiceException("comment must be a string", 400)

    return timestamp


class PeerAgsService(AssignmentsGradesService):
    """AGS endpoints of one context, and of one line item when line_item_id is set.

    required_scopes replaces the package's scope list: the package accepts a
    token carrying any AGS scope on every endpoint, while this class requires a
    scope that grants the operation.
    """

    # pylint: disable=too-many-arguments
    def __init__(
        self,
        request: PeerRequest,
        platform_config: PeerPlatformConf,
        store: AdvantageStore,
        context_id: str,
        line_item_id: t.Optional[str],
        required_scopes: t.List[str],
    ) -> None:
        lineitem_url = (
            store.urls.lineitem_url(context_id, line_item_id) if line_item_id is not None else None
        )
        super().__init__(request, platform_config, store.urls.lineitems_url(context_id), lineitem_url)
        self._store = store
        self._context_id = context_id
        self._required_scopes = required_scopes

    @property
    def allowed_scopes(self) -> t.List[str]:
        return self._required_scopes

    # The package passes every query parameter as a keyword argument, so the
    # router rejects query parameters that these finders do not take.
    def find_lineitems(
        self,
        page: int = 1,
        limit: t.Optional[int] = None,
        line_item_id: t.Optional[str] = None,
        resource_link_id: t.Optional[str] = None,
        resource_id: t.Optional[str] = None,
        tag: t.Optional[str] = None,
    ) -> TPage:
        items = self._store.list_line_items(self._context_id)
        filters = {"resourceLinkId": resource_link_id, "resourceId": resource_id, "tag": tag}
        for key, expected in filters.items():
            if expected is not None:
                items = [item for item in items if item.get(key) == expected]
        return paginate(items, page, limit)

    def find_lineitem(self, line_item_id: str) -> TLineItem:
        return t.cast(TLineItem, self._store.get_line_item(self._context_id, line_item_id))

    def create_lineitem(self, creation_data: TLineItem) -> TLineItem:
        return t.cast(
            TLineItem, self._store.create_line_item(self._context_id, dict(creation_data))
        )

    def update_lineitem(self, update_data: TLineItem) -> TLineItem:
        data = dict(update_data)
        line_item_id = data.pop("id")
        return t.cast(TLineItem, self._store.replace_line_item(self._context_id, line_item_id, data))

    def delete_lineitem(self, line_item_id: str) -> None:
        self._store.delete_line_item(self._context_id, line_item_id)

    def update_score(self, line_item_id: str, score: TScore) -> UpdateScoreStatus:
        return self._store.add_score(self._context_id, line_item_id, t.cast(t.Dict[str, t.Any], score))

    def get_results(
        self,
        line_item_id: str,
        page: int = 1,
        limit: t.Optional[int] = None,
        user_id: t.Optional[str] = None,
    ) -> TPage:
        results = self._store.list_results(self._context_id, line_item_id)
        if user_id is not None:
            results = [result for result in results if result["userId"] == user_id]
        return paginate(results, page, limit)


class PeerNrpsService(NamesRoleProvisioningService):
    """NRPS context membership endpoint of one context."""

    def __init__(
        self,
        request: PeerRequest,
        platform_config: PeerPlatformConf,
        store: AdvantageStore,
        context_id: str,
    ) -> None:
        super().__init__(request, platform_config, store.urls.memberships_url(context_id))
        self._store = store
        self._context_id = context_id

    def get_member_data_page(
        self,
        page: int = 1,
        limit: t.Optional[int] = None,
        role: t.Optional[str] = None,
        since: t.Optional[str] = None,
        rlid: t.Optional[str] = None,
    ) -> TPage:
        # NOTE: `since` (membership differences) is ignored, and `rlid` returns
        # every member of the context without the per-link `message` section.
        members = self._store.list_members(self._context_id)
        if role is not None:
            members = [member for member in members if role_matches(role, member["roles"])]
        return paginate(members, page, limit)

    def get_context_by_id(self) -> Context:
        return self._store.get_context(self._context_id)

    def is_resource_link_valid(self, context_id: str, resource_link_id: str) -> bool:
        return self._store.has_resource_link(context_id, resource_link_id)


def role_matches(role: str, member_roles: t.List[str]) -> bool:
    """Match an NRPS role filter, a full URI or a short context role name, against role URIs."""
    if role in member_roles:
        return True
    return any(member_role.endswith("#" + role) for member_role in member_roles)
