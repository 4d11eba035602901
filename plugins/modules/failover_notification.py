#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: failover_notification
short_description: Publish one failover notice to an SNS topic, without ever failing the run
version_added: 0.1.0
description:
  - Publishes one notice (a failover's start or summary, an instance's outcome, a failback's summary, a health check's
    scan) to the SNS topic O(topic_arn), in the topic's own region.
  - Retries SNS throttling (C(Throttled), C(KMSThrottling)) and transient errors (C(ServiceUnavailable),
    C(InternalError), ...) and a request SNS never answered (connection refused, a timeout) with a jittered backoff,
    four attempts in all.
  - A notice that cannot be published does not fail the task, so that it never fails a failover; the module returns
    RV(published=false) with the RV(error) and warns. A malformed O(topic_arn) fails the task before any AWS call.
  - The subject is made one that SNS accepts (ASCII, one line, under 100 characters).
  - In check mode nothing is published; C(changed) says whether it would have been.
author:
  - Dedicated Hosts Failover maintainers (@dedicated-hosts)
options:
  topic_arn:
    description:
      - The SNS topic, C(arn:<aws|aws-cn|aws-us-gov>:sns:<region>:<12-digit account>:<topic name>).
      - The notice is published in the topic's region, whatever O(region) says.
    type: str
    required: true
  subject:
    description:
      - The subject (e-mail subscribers see it as the mail's subject).
      - White space is folded, anything that is not ASCII is replaced and a longer subject is cut to 99 characters.
    type: str
    required: true
  msg:
    description: The body of the notice (C(message) is a name Ansible keeps for itself).
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Needs C(sns:Publish) on the topic (C(docs/iam.md)).
"""

EXAMPLES = r"""
- name: Tell the on-call team that a failover started
  dedicated_hosts.failover.failover_notification:
    topic_arn: arn:aws:sns:us-east-1:123456789012:host-failover
    subject: "EC2 Dedicated Host Failover - Failover of h-0123456789abcdef0 started"
    msg: Failover of Dedicated Host h-0123456789abcdef0 started by ops@bastion.
  register: notice

- name: Keep what could not be sent for the report
  ansible.builtin.set_fact:
    notification_errors: "{{ notification_errors | default([]) + [notice.error] }}"
  when: not notice.published and not ansible_check_mode
"""

RETURN = r"""
published:
  description: Whether SNS took the notice (false in check mode and after an error).
  returned: always
  type: bool
  sample: true
message_id:
  description: SNS's id of the published message; null when nothing was published.
  returned: always
  type: str
  sample: 5b7cb8d6-0d0a-5d4f-9a3e-3c2f1e0b9a71
subject:
  description: The subject as sent.
  returned: always
  type: str
  sample: "EC2 Dedicated Host Failover - Succeeded: h-0123456789abcdef0"
error:
  description: Why the notice was not published (AWS's code and message); null when it was, or in check mode.
  returned: always
  type: str
  sample: "publishing to arn:aws:sns:us-east-1:123456789012:host-failover failed: Service Unavailable (ServiceUnavailable)"
"""

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.base import FailoverModule
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.notification import client_config
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.notification import publish_notice
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.notification import topic_region


def run(module):
    params = module.params
    client = module.client("sns", region=topic_region(params["topic_arn"]), config=client_config())
    result = publish_notice(client, params["topic_arn"], params["subject"], params["msg"], check_mode=module.check_mode)
    if result["error"]:
        module.warn(f"Could not notify {params['topic_arn']}: {result['error']}")
    return result


def main():
    argument_spec = dict(
        topic_arn=dict(type="str", required=True),
        subject=dict(type="str", required=True),
        msg=dict(type="str", required=True),
    )
    module = FailoverModule(argument_spec)
    module.run(run)


if __name__ == "__main__":
    main()
