// The environment's network and identities: virtual network with a private subnet (NSG attached),
// the workspace and compute user-assigned identities, and the private DNS zones Azure ML and its
// services resolve through, each linked to the virtual network.

param location string
param tags object
param vnetName string
param nsgName string
param subnetName string
param vnetAddressSpace string
param privateSubnetPrefix string
param workspaceIdentityName string
param computeIdentityName string

var privateDnsZoneNames = [
  'privatelink.api.azureml.ms'
  'privatelink.notebooks.azure.net'
  'privatelink.blob.${environment().suffixes.storage}'
  'privatelink.file.${environment().suffixes.storage}'
  'privatelink.queue.${environment().suffixes.storage}'
  'privatelink.table.${environment().suffixes.storage}'
  'privatelink.vaultcore.azure.net'
  'privatelink.azurecr.io'
]
// No privatelink.monitor.azure.com: without an Azure Monitor private link scope behind it, a
// linked empty zone breaks resolution of every *.monitor.azure.com name inside the network
// (https://learn.microsoft.com/azure/azure-monitor/logs/private-link-design).

resource nsg 'Microsoft.Network/networkSecurityGroups@2023-11-01' = {
  name: nsgName
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        vnetAddressSpace
      ]
    }
    subnets: [
      {
        name: subnetName
        properties: {
          addressPrefix: privateSubnetPrefix
          defaultOutboundAccess: false
          privateEndpointNetworkPolicies: 'Enabled'
          networkSecurityGroup: {
            id: nsg.id
          }
        }
      }
    ]
  }
}

resource workspaceIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: workspaceIdentityName
  location: location
  tags: tags
}

resource computeIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: computeIdentityName
  location: location
  tags: tags
}

resource privateDnsZones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for zone in privateDnsZoneNames: {
  name: zone
  location: 'global'
  tags: tags
}]

resource privateDnsZoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (zone, i) in privateDnsZoneNames: {
  parent: privateDnsZones[i]
  name: 'link-${vnetName}'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

output subnetId string = vnet.properties.subnets[0].id
output workspaceIdentityId string = workspaceIdentity.id
output workspaceIdentityPrincipalId string = workspaceIdentity.properties.principalId
output computeIdentityId string = computeIdentity.id
output computeIdentityPrincipalId string = computeIdentity.properties.principalId
output vnetId string = vnet.id
