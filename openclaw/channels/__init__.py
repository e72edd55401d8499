"""Channel connections (chat networks in, replies out).

:class:`~openclaw.channels.service.ChannelsService` is the ``channels`` child of the gateway
tree; each channel account it runs is a child service providing
:class:`~openclaw.channels.interfaces.IChannel`. One package per network lands here.
"""
