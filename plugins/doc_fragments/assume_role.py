# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options of the modules that read or change the Dedicated Hosts and their instances.
    DOCUMENTATION = r"""
options:
  assume_role_arn:
    description:
      - An IAM role in the hosts' account to assume (C(sts:AssumeRole)) with the module's credentials; the EC2 calls
        use the role's temporary credentials. The migration table and the notification topic keep the module's own
        credentials (their C(table_profile) option chooses others).
      - Empty or unset means no role.
    type: str
  assume_role_external_id:
    description:
      - The external id the role's trust policy requires (C(sts:ExternalId)), if any.
    type: str
  assume_role_session_name:
    description:
      - The role session name, which CloudTrail shows for every EC2 call of the failover.
    type: str
    default: dedicated-hosts-failover
"""
