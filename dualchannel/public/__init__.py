"""What the service publishes to everyone, without a token: the list of admitted dual-channel
pharmacies (seed 003 三(二): "纳入'双通道'管理，并及时向社会公布"). Nothing personal is in it.
"""
