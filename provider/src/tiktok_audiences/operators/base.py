"""What every task of an audience's DAG shares: the audience it works for and the metadata database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from tiktok_audiences.home import META_CONN_ID

if TYPE_CHECKING:
    from tiktok_audiences.definitions import AudienceDefinition


class AudienceOperator(BaseOperator):
    """Base of the operators of an audience DAG; the failure callbacks find the audience through it.

    :param audience: the audience definition (typed; parsed from the audience file when the DAG is)
    :param meta_conn_id: connection of the metadata database
    """

    def __init__(self, *, audience: AudienceDefinition, meta_conn_id: str = META_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.audience = audience
        self.meta_conn_id = meta_conn_id
