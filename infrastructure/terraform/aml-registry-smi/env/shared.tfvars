# The registry is shared by every environment: one var file, deployed once.
namespace = "taxifare"
postfix   = "0001"
location  = "westeurope"
