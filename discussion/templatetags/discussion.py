"""{% comment_thread record %}, {% study_discussion detail %} and
{% discussion_queues %}: the discussion on the pages of other apps, each one line in
their templates. Each renders nothing for users outside curation."""

from django import template

from .. import selectors
from ..forms import CommentForm

register = template.Library()


def _user(context):
    request = context.get("request")
    return getattr(request, "user", None)


@register.inclusion_tag("discussion/thread.html", takes_context=True)
def comment_thread(context, target):
    request = context.get("request")
    thread = selectors.thread_for(_user(context), target) if target is not None else None
    return {
        "thread": thread, "form": CommentForm(), "request": request,
        "next": request.get_full_path() if request else "", "htmx": True,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("discussion/study.html", takes_context=True)
def study_discussion(context, detail):
    request = context.get("request")
    discussion = selectors.study_discussion(_user(context), detail)
    return {
        "discussion": discussion, "form": CommentForm(), "request": request,
        "next": request.get_full_path() if request else "",
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("discussion/queues.html", takes_context=True)
def discussion_queues(context):
    user = _user(context)
    return {"queues": selectors.discussion_queues(user) if user else []}
