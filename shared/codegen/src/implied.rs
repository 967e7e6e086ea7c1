//! Authorizations AWS makes *beside* the named action of a call: the checks
//! no action table and no policy simulator knows of, so the IAM simulation
//! cannot find them by itself. Each row says for which call and under which
//! condition AWS makes the extra check, what it checks, who must hold it, and
//! where that is written down. A row whose source could not be found here is
//! kept and marked [`Evidence::Unverified`], never left out.
//!
//! [`crate::iam::inventory`] adds every [`Holds::Simulated`] row that applies
//! to a call of the inventory (same principal, the call's resource and request
//! tags where the row says so), so the simulation proves it allowed and the
//! leave-one-out check keeps the grant that allows it. `make generate` also
//! writes the whole table into the README (section "Permissions AWS checks
//! beside the named action").

/// Who must hold the extra authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Whoever makes the named call (a function, the state machine, EMR's
    /// service role).
    Caller,
    /// The person or pipeline running `sam deploy` (the stack creates no
    /// role for them, so these rows are documentation, not simulation).
    Operator,
}

/// When AWS makes the extra check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The request carries this parameter (as sparkhub renders it: the
    /// inventory knows which parameters each of its calls sends).
    Sends(&'static str),
    /// On every such call.
    Always,
    /// Once per account (or region): the first call creates something
    /// account-wide, later calls find it. The grant must be there for that
    /// first run, so the simulation treats it like [`When::Always`].
    FirstInAccount,
}

/// How the authorization is satisfied in sparkhub's stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// By the stack's own policies (or the AWS managed policy it attaches):
    /// the inventory adds the call and the simulation checks it.
    Simulated,
    /// By a resource policy AWS writes itself (the key policy of an AWS
    /// managed KMS key); nothing to grant, nothing the simulation evaluates.
    ByAws,
    /// It does not apply: sparkhub's call does not send what triggers it.
    /// The reason names the code that makes the call.
    NotSent(&'static str),
    /// By the deploying operator's own permissions.
    Operator,
}

/// Whether the row's source was found and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    Documented,
    /// No source found here (no network beyond package registries): kept so
    /// that it is checked in a real account, not forgotten.
    Unverified,
}

/// One authorization AWS makes beside a named action.
#[derive(Debug, Clone, Copy)]
pub struct Implied {
    /// The IAM action of the named call.
    pub call: &'static str,
    pub when: When,
    pub who: Who,
    /// The extra action AWS authorizes.
    pub action: &'static str,
    /// Its resource; `${Resource}` is the named call's resource, `${Sent}`
    /// the value of the parameter of [`When::Sends`].
    pub resource: &'static str,
    /// Condition keys AWS sets for it.
    pub context: &'static [(&'static str, &'static str)],
    /// The named call's request tags travel with it (`aws:RequestTag/…`,
    /// the service's own `…:RequestTag/…` and `aws:TagKeys`).
    pub request_tags: bool,
    pub holds: Holds,
    pub evidence: Evidence,
    /// Where it is written down.
    pub source: &'static str,
    /// What the source says, in its words where we have them.
    pub says: &'static str,
}

const EMR_SLR: &str = "arn:aws:iam::${Account}:role/aws-service-role/elasticmapreduce.amazonaws.com/AWSServiceRoleForEMRCleanup";

/// The table. Its order is the README's.
pub const IMPLIED: &[Implied] = &[
    Implied {
        call: "elasticmapreduce:RunJobFlow",
        when: When::Sends("Tags"),
        who: Who::Caller,
        action: "elasticmapreduce:AddTags",
        // AWS asks before the cluster has an id: an AccessDenied quoted in
        // segment-boneyard/segment-docs#7000 names the resource `…:cluster/*`.
        resource: "arn:aws:elasticmapreduce:${Region}:${Account}:cluster/*",
        context: &[],
        request_tags: true,
        holds: Holds::Simulated,
        evidence: Evidence::Documented,
        source: "AWS's notice, quoted in https://github.com/aws/aws-cdk/issues/24842 and https://github.com/aws-solutions-library-samples/data-lakes-on-aws/pull/129, fixed in https://github.com/aws/aws-cdk/pull/24856; https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-fine-grained-cluster-access.html; Service Authorization Reference (RunJobFlow's dependent actions): https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticmapreduce.html",
        says: "Beginning April 24, 2023, this permission [elasticmapreduce:AddTags] will be required in addition to permission for the elasticmapreduce:RunJobFlow IAM action, in order to create a cluster with tags. Which condition keys that check sets is not documented; sparkhub's grant assumes aws:RequestTag/… (listed for AddTags).",
    },
    Implied {
        call: "elasticmapreduce:RunJobFlow",
        when: When::FirstInAccount,
        who: Who::Caller,
        action: "iam:CreateServiceLinkedRole",
        resource: EMR_SLR,
        context: &[("iam:AWSServiceName", "elasticmapreduce.amazonaws.com")],
        request_tags: false,
        holds: Holds::Simulated,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/emr/latest/ManagementGuide/using-service-linked-roles-cleanup.html; AWS's AmazonEMRFullAccessPolicy_v2 (statement ElasticMapReduceServiceLinkedRole)",
        says: "When you launch a cluster, either for the first time or when a service-linked role is not present, Amazon EMR creates the service-linked role for you. You must have permissions to create the service-linked role (iam:CreateServiceLinkedRole on role/aws-service-role/elasticmapreduce.amazonaws.com*/AWSServiceRoleForEMRCleanup*, iam:AWSServiceName elasticmapreduce.amazonaws.com or .com.cn).",
    },
    Implied {
        call: "elasticmapreduce:RunJobFlow",
        when: When::Sends("AutoTerminationPolicy"),
        who: Who::Caller,
        action: "elasticmapreduce:PutAutoTerminationPolicy",
        resource: "arn:aws:elasticmapreduce:${Region}:${Account}:cluster/j-EXAMPLE",
        context: &[],
        request_tags: false,
        holds: Holds::Simulated,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-auto-termination-policy.html (Permissions to use auto-termination)",
        says: "Before you can apply and manage auto-termination policies for Amazon EMR, you need the permissions [Put/Get/RemoveAutoTerminationPolicy]. Whether RunJobFlow with AutoTerminationPolicy checks PutAutoTerminationPolicy is not written anywhere we found (the dependent-actions column lists only AddTags and PassRole); granted so the first run does not find out.",
    },
    Implied {
        call: "elasticmapreduce:RunJobFlow",
        when: When::Sends("ServiceRole"),
        who: Who::Caller,
        action: "iam:PassRole",
        resource: "arn:aws:iam::${Account}:role/${Sent}",
        context: &[("iam:PassedToService", "elasticmapreduce.amazonaws.com")],
        request_tags: false,
        holds: Holds::Simulated,
        evidence: Evidence::Documented,
        source: "Service Authorization Reference, Amazon EMR, RunJobFlow's dependent actions: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticmapreduce.html",
        says: "RunJobFlow lists iam:PassRole as a dependent action: the service role is passed to EMR.",
    },
    Implied {
        call: "elasticmapreduce:RunJobFlow",
        when: When::Sends("JobFlowRole"),
        who: Who::Caller,
        action: "iam:PassRole",
        resource: "arn:aws:iam::${Account}:role/${Sent}",
        context: &[("iam:PassedToService", "ec2.amazonaws.com")],
        request_tags: false,
        holds: Holds::Simulated,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-managed-iam-policies.html; AWS's AmazonEMRFullAccessPolicy_v2 (statement PassRoleForEC2)",
        says: "The instance profile's role is passed to EC2 (iam:PassedToService ec2.amazonaws.com).",
    },
    Implied {
        call: "ec2:RunInstances",
        when: When::Sends("TagSpecifications"),
        who: Who::Caller,
        action: "ec2:CreateTags",
        resource: "${Resource}",
        context: &[("ec2:CreateAction", "RunInstances")],
        request_tags: true,
        holds: Holds::Simulated,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html",
        says: "To tag resources on creation, users must have permissions to use the action that creates the resource and the ec2:CreateTags action (condition key ec2:CreateAction).",
    },
    Implied {
        call: "ec2:CreateFleet",
        when: When::Sends("TagSpecifications"),
        who: Who::Caller,
        action: "ec2:CreateTags",
        resource: "${Resource}",
        context: &[("ec2:CreateAction", "CreateFleet")],
        request_tags: true,
        holds: Holds::Simulated,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html",
        says: "Tag-on-create needs ec2:CreateTags beside the creating action (ec2:CreateAction = CreateFleet).",
    },
    Implied {
        call: "ec2:CreateLaunchTemplate",
        when: When::Sends("TagSpecifications"),
        who: Who::Caller,
        action: "ec2:CreateTags",
        resource: "${Resource}",
        context: &[("ec2:CreateAction", "CreateLaunchTemplate")],
        request_tags: true,
        holds: Holds::Simulated,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html",
        says: "Tag-on-create needs ec2:CreateTags beside the creating action (ec2:CreateAction = CreateLaunchTemplate).",
    },
    Implied {
        call: "ec2:CreateFleet",
        when: When::FirstInAccount,
        who: Who::Caller,
        action: "iam:CreateServiceLinkedRole",
        resource: "arn:aws:iam::${Account}:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot",
        context: &[("iam:AWSServiceName", "spot.amazonaws.com")],
        request_tags: false,
        holds: Holds::Operator,
        evidence: Evidence::Unverified,
        source: "not found here: EC2's Spot service-linked role (AWSServiceRoleForEC2Spot) is created on an account's first Spot request; AmazonEMRServicePolicy_v2 (v6) does not grant iam:CreateServiceLinkedRole for it",
        says: "A profile with spot capacity in an account that never used Spot may need the role created once by the operator: aws iam create-service-linked-role --aws-service-name spot.amazonaws.com",
    },
    Implied {
        call: "secretsmanager:CreateSecret",
        when: When::Sends("Tags"),
        who: Who::Caller,
        action: "secretsmanager:TagResource",
        resource: "${Resource}",
        context: &[],
        request_tags: true,
        holds: Holds::NotSent(
            "sparkhub's CreateSecret (shared/aws SecretsManager::create) sends no Tags",
        ),
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html (Required permissions)",
        says: "secretsmanager:CreateSecret. If you include tags in the secret, you also need secretsmanager:TagResource.",
    },
    Implied {
        call: "secretsmanager:GetSecretValue",
        when: When::Sends("a customer managed KMS key on the secret"),
        who: Who::Caller,
        action: "kms:Decrypt",
        resource: "arn:aws:kms:${Region}:${Account}:key/*",
        context: &[],
        request_tags: false,
        holds: Holds::NotSent(
            "sparkhub's secrets use the AWS managed key aws/secretsmanager (CreateSecret without KmsKeyId)",
        ),
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html (Required permissions)",
        says: "If the secret is encrypted using a customer-managed key instead of the AWS managed key aws/secretsmanager, then you also need kms:Decrypt permissions for that key.",
    },
    Implied {
        call: "s3:PutObject",
        when: When::Always,
        who: Who::Caller,
        action: "kms:GenerateDataKey",
        resource: "the AWS managed key aws/s3",
        context: &[("kms:ViaService", "s3.${Region}.amazonaws.com")],
        request_tags: false,
        holds: Holds::ByAws,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html; https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html",
        says: "To upload an object encrypted with an AWS KMS key you need kms:GenerateDataKey (kms:Decrypt to download); with the AWS managed key aws/s3 the requester must be from the same account that owns the key and have the right S3 permissions. The sparkhub bucket uses aws/s3 and every writer and reader is a role of the account.",
    },
    Implied {
        call: "sns:Publish",
        when: When::Always,
        who: Who::Caller,
        action: "kms:GenerateDataKey",
        resource: "the AWS managed key aws/sns",
        context: &[("kms:ViaService", "sns.${Region}.amazonaws.com")],
        request_tags: false,
        holds: Holds::ByAws,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html; https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html",
        says: "The publisher must have kms:GenerateDataKey and kms:Decrypt for the key; AWS services that publish as themselves (EventBridge) need a customer managed key whose policy names them. sparkhub's topic uses alias/aws/sns and its publishers are its own roles (the state machine, two functions); that the AWS managed key's policy covers them as SQS's does is not said in so many words for SNS.",
    },
    Implied {
        call: "sqs:SendMessage",
        when: When::Always,
        who: Who::Caller,
        action: "kms:GenerateDataKey",
        resource: "the AWS managed key aws/sqs",
        context: &[("kms:ViaService", "sqs.${Region}.amazonaws.com")],
        request_tags: false,
        holds: Holds::ByAws,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html; https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html",
        says: "The policy for this KMS key [aws/sqs] includes permissions for all principals in the account (that are authorized to use Amazon SQS). FailedInvocations (aws/sqs) is written by the functions' own roles. EventBridge as a sender needs a customer managed key, so UndeliveredTriggers, the dead-letter queue of the schedules and the S3 rule, uses SQS-managed encryption (SSE-SQS) and needs no KMS permission.",
    },
    Implied {
        call: "s3:PutObject",
        when: When::Sends("x-amz-tagging"),
        who: Who::Caller,
        action: "s3:PutObjectTagging",
        resource: "${Resource}",
        context: &[],
        request_tags: false,
        holds: Holds::NotSent(
            "sparkhub's PutObject calls (scripts, leases, history in shared/aws) send no tagging",
        ),
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (Permissions)",
        says: "s3:PutObjectTagging - To successfully set the tag-set with your PutObject request, you must have the s3:PutObjectTagging.",
    },
    Implied {
        call: "lambda:InvokeFunction",
        when: When::Sends("DeadLetterConfig"),
        who: Who::Caller,
        action: "sqs:SendMessage",
        resource: "${UndeliveredTriggersArn}",
        context: &[],
        request_tags: false,
        holds: Holds::Simulated,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html (Set up execution role permissions)",
        says: "When EventBridge Scheduler gives up on a schedule's delivery (its execution role invoking create-cluster), it sends the event to the dead-letter queue with the same role, which needs sqs:SendMessage on the queue (the English sentence was read from a translated copy of the page).",
    },
    Implied {
        call: "events:(a rule's delivery)",
        when: When::Sends("a DeadLetterConfig and a failed delivery"),
        who: Who::Caller,
        action: "sqs:SendMessage",
        resource: "${UndeliveredTriggersArn}",
        context: &[("aws:SourceArn", "the rule's ARN")],
        request_tags: false,
        holds: Holds::ByAws,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html",
        says: "If you use the PutTargets operation to add a target with an Amazon SQS queue in the same account as its dead-letter queue, you must manually grant permissions to the queue: a queue policy for events.amazonaws.com with aws:SourceArn the rule (the stack's UndeliveredTriggersPolicy; a resource policy, not simulated).",
    },
    Implied {
        call: "cloudformation:CreateStack",
        when: When::Sends("Tags on IAM roles"),
        who: Who::Operator,
        action: "iam:TagRole",
        resource: "arn:aws:iam::${Account}:role/${EmrInstanceRolePrefix}-*",
        context: &[],
        request_tags: true,
        holds: Holds::Operator,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags_roles.html",
        says: "To create a role with tags you need iam:CreateRole and iam:TagRole (the node roles carry sparkhub:profile).",
    },
    Implied {
        call: "cloudformation:CreateStack",
        when: When::Sends("Tags on functions and the state machine (SAM adds them)"),
        who: Who::Operator,
        action: "lambda:TagResource, states:TagResource",
        resource: "the stack's functions and state machine",
        context: &[],
        request_tags: true,
        holds: Holds::Operator,
        evidence: Evidence::Unverified,
        source: "not found here; the SAM transform adds the tags lambda:createdBy = SAM and stateMachine:createdBy = SAM (see the transformed template)",
        says: "Creating a tagged function or state machine needs the service's TagResource beside the create action.",
    },
    Implied {
        call: "ec2:CreateSecurityGroup",
        when: When::Sends("Tags (MasterSshSecurityGroup)"),
        who: Who::Operator,
        action: "ec2:CreateTags",
        resource: "arn:aws:ec2:${Region}:${Account}:security-group/*",
        context: &[("ec2:CreateAction", "CreateSecurityGroup")],
        request_tags: true,
        holds: Holds::Operator,
        evidence: Evidence::Documented,
        source: "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html",
        says: "Tag-on-create needs ec2:CreateTags beside ec2:CreateSecurityGroup.",
    },
];

impl When {
    pub fn describe(&self) -> String {
        match self {
            When::Sends(what) => format!("with {what}"),
            When::Always => "always".into(),
            When::FirstInAccount => "the account's first time".into(),
        }
    }
}

impl Holds {
    pub fn describe(&self) -> String {
        match self {
            Holds::Simulated => "stack policy, simulated".into(),
            Holds::ByAws => "AWS's own key policy".into(),
            Holds::NotSent(why) => format!("does not apply: {why}"),
            Holds::Operator => "the operator's permissions".into(),
        }
    }
}

/// README markers around the generated table.
pub const README_BEGIN: &str =
    "<!-- BEGIN generated: permissions AWS checks beside the named action (make generate) -->";
pub const README_END: &str =
    "<!-- END generated: permissions AWS checks beside the named action -->";

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The table as Markdown.
pub fn markdown() -> String {
    let mut out = String::from(
        "| call | when | who | also checks | on | holds by | evidence | source |\n|---|---|---|---|---|---|---|---|\n",
    );
    for row in IMPLIED {
        let who = match row.who {
            Who::Caller => "caller",
            Who::Operator => "operator",
        };
        let mut on = row
            .resource
            .replace("${Sent}", "<the role the request names>")
            .replace("${Resource}", "<the named call's resource>");
        for (k, v) in row.context {
            on.push_str(&format!(", {k} = {v}"));
        }
        if row.request_tags {
            on.push_str(", with the request's tags");
        }
        let evidence = match row.evidence {
            Evidence::Documented => "documented",
            Evidence::Unverified => "**unverified**",
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | `{}` | {} | {} | {} | {} — {} |\n",
            row.call,
            cell(&row.when.describe()),
            who,
            row.action,
            cell(&on),
            cell(&row.holds.describe()),
            evidence,
            cell(row.source),
            cell(row.says),
        ));
    }
    out
}

/// `readme` with the table between its markers, or `None` without them.
pub fn with_readme_table(readme: &str) -> Option<String> {
    let begin = readme.find(README_BEGIN)?;
    let end = readme.find(README_END)?;
    Some(format!(
        "{}{README_BEGIN}\n{}{}",
        &readme[..begin],
        markdown(),
        &readme[end..]
    ))
}
