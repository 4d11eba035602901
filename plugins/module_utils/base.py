# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base every module of the collection stands on.

A module declares its own options and a ``run(module)`` function that calls the engine; this base adds
amazon.aws's connection options, check mode, the shared record options, retrying clients for EC2,
DynamoDB and SNS, and turns engine errors into ``fail_json`` with their details.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any
from typing import Callable
from typing import Dict
from typing import Mapping

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.transformation import camel_dict_to_snake_dict

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retry_decorator
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import FailoverError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILOVER_RECORD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import RECORD_KINDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_role_arn
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_session_name
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_table_name

DEFAULT_TABLE = default_of("migration_table")

# Options of every module that reads or writes the migration table (documented in the
# dedicated_hosts.failover.record doc fragment).
RECORD_OPTIONS = dict(
    table=dict(type="str", default=DEFAULT_TABLE),
    table_region=dict(type="str"),
    table_profile=dict(type="str"),
)

# Which record of a host a module uses, its failover's or its failback's (doc fragment dedicated_hosts.failover.record.kind).
RECORD_KIND_OPTIONS = dict(
    record=dict(type="str", default=FAILOVER_RECORD, choices=list(RECORD_KINDS)),
)

# The EC2 side in another account (doc fragment dedicated_hosts.failover.assume_role).
ASSUME_ROLE_OPTIONS = dict(
    assume_role_arn=dict(type="str"),
    assume_role_external_id=dict(type="str"),
    assume_role_session_name=dict(type="str", default=default_of("assume_role_session_name")),
)


class FailoverModule(AnsibleAWSModule):
    """AnsibleAWSModule with the collection's clients and error handling."""

    def __init__(self, argument_spec: Mapping[str, Any], record_options: bool = False, assume_role: bool = False,
                 record_kind: bool = False, **kwargs: Any) -> None:
        spec = dict(argument_spec)
        if record_options:
            spec.update(RECORD_OPTIONS)
        if record_kind:
            spec.update(RECORD_KIND_OPTIONS)
        if assume_role:
            spec.update(ASSUME_ROLE_OPTIONS)
        kwargs.setdefault("supports_check_mode", True)
        super(FailoverModule, self).__init__(argument_spec=spec, **kwargs)
        if record_options:
            self._validate(validate_table_name, self.params["table"], "table")
        if self.params.get("assume_role_arn"):
            self._validate(validate_role_arn, self.params["assume_role_arn"], "assume_role_arn")
            self._validate(validate_session_name, self.params["assume_role_session_name"], "assume_role_session_name")
        self._role_credentials = None

    def _validate(self, validator, value, option):
        try:
            validator(value, what=f"option {option}")
        except FailoverError as error:
            self.fail_json(msg=error.message, **error.details)

    def aws_client(self, service: str) -> Any:
        """A client for the hosts' account: the module's credentials, or the role of O(assume_role_arn)."""
        return self.client(service, retry_decorator=retry_decorator(), **self._assumed_role())

    def _assumed_role(self):
        """The temporary credentials of O(assume_role_arn) (one AssumeRole per module run), or nothing."""
        role_arn = self.params.get("assume_role_arn")
        if not role_arn:
            return {}
        if self._role_credentials is None:
            request = dict(RoleArn=role_arn, RoleSessionName=self.params["assume_role_session_name"])
            if self.params.get("assume_role_external_id"):
                request["ExternalId"] = self.params["assume_role_external_id"]
            try:
                answer = self.client("sts", retry_decorator=retry_decorator()).assume_role(aws_retry=True, **request)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
                self.fail_json_aws(error, msg=f"assuming the role {role_arn} failed; nothing has been changed")
            credentials = answer["Credentials"]
            self._role_credentials = dict(aws_access_key_id=credentials["AccessKeyId"],
                                          aws_secret_access_key=credentials["SecretAccessKey"],
                                          aws_session_token=credentials["SessionToken"])
        return self._role_credentials

    def record_client(self, service: str = "dynamodb") -> Any:
        """A client for the table's (or the topic's) region and profile, which may differ from the hosts'."""
        extra = {}
        if self.params.get("table_region"):
            extra["region"] = self.params["table_region"]
        if self.params.get("table_profile"):
            extra["profile_name"] = self.params["table_profile"]
        return self.client(service, retry_decorator=retry_decorator(), **extra)

    def run(self, action: Callable[["FailoverModule"], Dict[str, Any]]) -> None:
        """Call ``action(self)`` and exit with its result dict; engine and AWS errors fail the task."""
        try:
            result = action(self)
        except FailoverError as error:
            self.fail_json(msg=error.message, **camel_dict_to_snake_dict(_plain(error.details)))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            self.fail_json_aws(error, msg="AWS call failed")
        self.exit_json(**result)


def _plain(details):
    """Error details with keys as strings, so camel_dict_to_snake_dict accepts them."""
    return dict((str(key), value) for key, value in details.items())
